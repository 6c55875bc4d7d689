//! A TCP proxy that delays what clients send: a slow upstream for nginx.

use std::time::Duration;

/// A TCP proxy that holds each chunk from the client for `delay` before passing it on.
pub async fn delaying_proxy(
    listen: u16,
    upstream: u16,
    delay: Duration,
) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", listen))
        .await
        .unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async {
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let n = match tokio::io::AsyncReadExt::read(&mut cr, &mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        tokio::time::sleep(delay).await;
                        if tokio::io::AsyncWriteExt::write_all(&mut sw, &buf[..n])
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                };
                let down = tokio::io::copy(&mut sr, &mut cw);
                tokio::select! { _ = up => {}, _ = down => {} }
            });
        }
    })
}
