//! A local HTTP receiver (answers 200 after a delay) and a local SMTP sink,
//! recording what actually arrived.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Request {
    pub headers: Vec<(String, String)>,
    pub body: String,
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
    got: Arc<Mutex<Vec<Request>>>,
}

impl Http {
    pub fn start(delay: Duration) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let me = Self {
            url: format!("http://{}/hook", l.local_addr().unwrap()),
            got: Arc::new(Mutex::new(vec![])),
        };
        let got = me.got.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let got = got.clone();
                std::thread::spawn(move || serve(s, delay, &got));
            }
        });
        me
    }
    pub fn requests(&self) -> Vec<Request> {
        self.got.lock().unwrap().clone()
    }
}

fn serve(mut s: TcpStream, delay: Duration, got: &Mutex<Vec<Request>>) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let (mut headers, mut len) = (vec![], 0);
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
    if r.read_exact(&mut body).is_err() {
        return;
    }
    // Recorded on arrival: a sender killed while waiting for the answer has still delivered.
    got.lock().unwrap().push(Request {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    std::thread::sleep(delay);
    let _ = write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    );
}

#[derive(Debug, Clone)]
pub struct Mail {
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

#[derive(Debug, Clone)]
pub struct Smtp {
    pub port: u16,
    got: Arc<Mutex<Vec<Mail>>>,
}

impl Smtp {
    pub fn start() -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let me = Self {
            port: l.local_addr().unwrap().port(),
            got: Arc::new(Mutex::new(vec![])),
        };
        let got = me.got.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let got = got.clone();
                std::thread::spawn(move || {
                    let _ = session(s, &got);
                });
            }
        });
        me
    }
    pub fn mails(&self) -> Vec<Mail> {
        self.got.lock().unwrap().clone()
    }
}

fn session(mut s: TcpStream, got: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
    let mut r = BufReader::new(s.try_clone()?);
    s.write_all(b"220 sink ESMTP\r\n")?;
    let mut to = vec![];
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let up = line.to_ascii_uppercase();
        if up.starts_with("EHLO") {
            s.write_all(b"250-sink\r\n250 8BITMIME\r\n")?;
        } else if up.starts_with("MAIL FROM:") {
            to.clear();
            s.write_all(b"250 ok\r\n")?;
        } else if up.starts_with("RCPT TO:") {
            to.push(line[8..].trim().to_string());
            s.write_all(b"250 ok\r\n")?;
        } else if up.starts_with("DATA") {
            s.write_all(b"354 go\r\n")?;
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
            got.lock().unwrap().push(Mail {
                to: to.clone(),
                data,
            });
            s.write_all(b"250 queued\r\n")?;
        } else if up.starts_with("QUIT") {
            s.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            s.write_all(b"250 ok\r\n")?;
        }
    }
}
