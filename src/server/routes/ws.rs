//! `GET /ws`: live events. Text frames carry events only; a protocol ping every 20 s;
//! a close frame (1001, going away) when the instance shuts down.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

use crate::server::state::AppState;

pub const PING_EVERY: Duration = Duration::from_secs(20);

pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| client(state, socket))
}

async fn client(state: AppState, mut socket: WebSocket) {
    let mut events = state.events.subscribe();
    let mut shutdown = state.shutdown.clone();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    state.metrics.ws_clients.inc();
    if *shutdown.borrow() {
        let _ = socket.send(going_away()).await;
        state.metrics.ws_clients.dec();
        return;
    }
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(frame) => {
                    if socket.send(Message::Text(frame.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "a slow WebSocket client missed events");
                }
                Err(RecvError::Closed) => break,
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => {
                let _ = socket.send(going_away()).await;
                break;
            }
        }
    }
    state.metrics.ws_clients.dec();
}

fn going_away() -> Message {
    Message::Close(Some(CloseFrame {
        code: axum::extract::ws::close_code::AWAY,
        reason: "server shutting down".into(),
    }))
}
