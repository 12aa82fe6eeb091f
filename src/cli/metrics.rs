//! `--metrics-addr`: Prometheus text over plain HTTP, served by laketide itself so the build
//! needs no HTTP framework. Any path answers with the metrics.

use std::net::SocketAddr;

use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Installs the Prometheus recorder and serves it on `address` until the process ends.
pub async fn serve(address: &str) -> anyhow::Result<SocketAddr> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on --metrics-addr {address}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(accept(listener, handle));
    tracing::info!("metrics at http://{bound}/metrics");
    Ok(bound)
}

async fn accept(listener: TcpListener, handle: PrometheusHandle) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            // The request itself does not matter; read what came so the client sees a reply.
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let body = handle.render();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
