//! A local HTTP receiver and a local SMTP sink, on real sockets, that record
//! what actually arrived and can be told to fail, hang or drop.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver does with the next request.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    Status(u16),
    /// Read the request, then say nothing for this long and close.
    Hang(Duration),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The status answered (0: hung up).
    pub answered: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Http {
    pub url: String,
    pub script: Arc<Mutex<VecDeque<Act>>>,
    pub got: Arc<Mutex<Vec<Request>>>,
}

impl Http {
    /// Starts a receiver answering 200 unless the script says otherwise.
    pub fn start(script: Vec<Act>) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        let me = Self {
            url,
            script: Arc::new(Mutex::new(script.into())),
            got: Arc::new(Mutex::new(vec![])),
        };
        let m = me.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let m = m.clone();
                std::thread::spawn(move || m.serve(s));
            }
        });
        me
    }

    fn serve(&self, mut s: TcpStream) {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = vec![];
        let mut len = 0;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.trim_end().split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        let act = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Act::Status(200));
        // Record before answering, so a client that saw the answer can never
        // look at the list before its request is in it.
        let answered = match act {
            Act::Status(code) => code,
            Act::Hang(_) => 0,
        };
        self.got.lock().unwrap().push(Request {
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            answered,
        });
        match act {
            Act::Status(code) => {
                let _ = write!(
                    s,
                    "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
            Act::Hang(d) => std::thread::sleep(d),
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.got.lock().unwrap().clone()
    }
}

/// One message the SMTP sink accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        self.data.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// A tiny SMTP server speaking enough of RFC 5321 for a client to deliver.
#[derive(Debug, Clone)]
pub struct Smtp {
    pub port: u16,
    /// Drop the connection (no reply) after DATA for this many messages.
    pub drops: Arc<Mutex<u32>>,
    pub got: Arc<Mutex<Vec<Mail>>>,
}

impl Smtp {
    pub fn start(drops: u32) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let me = Self {
            port: l.local_addr().unwrap().port(),
            drops: Arc::new(Mutex::new(drops)),
            got: Arc::new(Mutex::new(vec![])),
        };
        let m = me.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let m = m.clone();
                std::thread::spawn(move || {
                    let _ = m.session(s);
                });
            }
        });
        me
    }

    fn session(&self, mut s: TcpStream) -> std::io::Result<()> {
        let mut r = BufReader::new(s.try_clone()?);
        s.write_all(b"220 sink.local ESMTP test sink\r\n")?;
        let (mut from, mut to) = (String::new(), vec![]);
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let up = line.to_ascii_uppercase();
            if up.starts_with("EHLO") {
                s.write_all(b"250-sink.local\r\n250 8BITMIME\r\n")?;
            } else if up.starts_with("HELO") || up.starts_with("NOOP") || up.starts_with("RSET") {
                s.write_all(b"250 ok\r\n")?;
            } else if up.starts_with("MAIL FROM:") {
                from = line[10..].trim().to_string();
                to.clear();
                s.write_all(b"250 ok\r\n")?;
            } else if up.starts_with("RCPT TO:") {
                let rcpt = line[8..].trim().to_string();
                if rcpt.contains("refused@") {
                    s.write_all(b"550 no such mailbox\r\n")?;
                } else {
                    to.push(rcpt);
                    s.write_all(b"250 ok\r\n")?;
                }
            } else if up.starts_with("DATA") {
                s.write_all(b"354 end with .\r\n")?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l)? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    data.push_str(&l);
                }
                {
                    let mut d = self.drops.lock().unwrap();
                    if *d > 0 {
                        *d -= 1;
                        // Drop the connection without accepting the message.
                        return Ok(());
                    }
                }
                self.got.lock().unwrap().push(Mail {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
                s.write_all(b"250 queued\r\n")?;
            } else if up.starts_with("QUIT") {
                s.write_all(b"221 bye\r\n")?;
                return Ok(());
            } else {
                s.write_all(b"502 not implemented\r\n")?;
            }
        }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.got.lock().unwrap().clone()
    }
}
