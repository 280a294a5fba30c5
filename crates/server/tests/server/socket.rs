//! A real socket: `run` on port 0 answers HTTP/1.1 and, when told to stop,
//! finishes the request in flight before returning.

use crate::fixture::{self, Fixture};
use std::io::{Read, Write};
use std::net::TcpStream;

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_on_port_zero_and_shuts_down_gracefully() {
    let fx = Fixture::new(fixture::engines().remove(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(farguard_server::run(listener, fx.state.clone(), async {
        let _ = stopped.await;
    }));
    let r = tokio::task::spawn_blocking(move || http_get(addr, "/healthz"))
        .await
        .unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("\"status\":\"ok\""));
    let r = tokio::task::spawn_blocking(move || http_get(addr, "/openapi.json"))
        .await
        .unwrap();
    assert!(r.contains("\"openapi\": \"3.1.0\""));
    let r = tokio::task::spawn_blocking(move || http_get(addr, "/metrics"))
        .await
        .unwrap();
    assert!(r.contains("farguard_http_requests_total"), "{r}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        TcpStream::connect(addr).is_err(),
        "the port is closed after shutdown"
    );
}
