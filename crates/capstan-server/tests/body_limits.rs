//! Request bodies over the limit, over a real HTTP/1.1 connection: the client that writes its whole
//! body before reading (as most HTTP/1.1 clients do) gets the 413, not a closed connection.

use std::io::{Read, Write};
use std::sync::Arc;

use capstan_server::{ApiServer, ServerConfig};
use capstan_store::MemoryStore;

/// Sends `body_len` bytes of JSON whitespace as a ConfigMap create, the whole body first, then
/// reads the answer's status line. `Err` if the connection broke.
fn post(addr: std::net::SocketAddr, body_len: usize, chunked: bool) -> std::io::Result<String> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {body_len}")
    };
    write!(
        stream,
        "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: capstan\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    )?;
    let chunk = vec![b' '; 64 * 1024];
    let mut left = body_len;
    while left > 0 {
        let n = left.min(chunk.len());
        if chunked {
            write!(stream, "{n:x}\r\n")?;
        }
        stream.write_all(&chunk[..n])?;
        if chunked {
            stream.write_all(b"\r\n")?;
        }
        left -= n;
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n")?;
    }
    let mut answer = vec![0u8; 512];
    let n = stream.read(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_read_then_refused_with_413() {
    let server = Arc::new(ApiServer::new(Arc::new(MemoryStore::new()), ServerConfig::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, None, async {
        let _ = stopped.await;
    }));
    for chunked in [false, true] {
        let status = tokio::task::spawn_blocking(move || post(addr, 8 * 1024 * 1024, chunked))
            .await
            .expect("client thread");
        match status {
            Ok(line) => assert!(line.starts_with("HTTP/1.1 413"), "chunked={chunked}: {line}"),
            Err(e) => panic!("chunked={chunked}: the connection broke instead of a 413: {e}"),
        }
    }
    let _ = stop.send(());
    let _ = serving.await;
}
