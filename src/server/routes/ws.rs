//! `GET /ws`: live events. Text frames carry events only; a protocol ping every 20 s;
//! a close frame (1001, going away) when the instance shuts down.
//!
//! What one client can cost is bounded: clients have nothing to say, so a message over
//! [`MAX_INCOMING`] ends the connection unread; a send that takes longer than
//! `limits.ws_send_timeout` (a client that stopped reading) drops the client; and an
//! instance takes `limits.ws_max_clients` at most, refusing more with 503.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::server::error::ApiError;
use crate::server::state::AppState;

pub const PING_EVERY: Duration = Duration::from_secs(20);

/// The largest message (and frame) read from a client.
pub const MAX_INCOMING: usize = 4096;

/// One client's place under the cap, from the upgrade until the connection ends.
struct Slot(AppState);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.ws_connected.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The `websocket_clients` gauge counts a client once it receives events.
struct Counted<'a>(&'a AppState);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.metrics.ws_clients.dec();
    }
}

pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let max = state.settings.limits.ws_max_clients;
    let taken = state
        .ws_connected
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        });
    if taken.is_err() {
        return ApiError::unavailable(
            "too_many_websockets",
            format!("this instance serves {max} live connections at most; retry shortly"),
        )
        .into_response();
    }
    let slot = Slot(state.clone());
    // Subscribed before the 101 answer leaves: a client that writes as soon as it is
    // upgraded (verify does) must get that write's event, and the upgraded task may start
    // after the event is fanned out.
    let events = state.events.subscribe();
    ws.max_message_size(MAX_INCOMING)
        .max_frame_size(MAX_INCOMING)
        .on_upgrade(move |socket| client(slot, socket, events))
}

/// Sends one message, or gives up after the send timeout (the client stopped reading).
async fn send(state: &AppState, socket: &mut WebSocket, m: Message) -> bool {
    match tokio::time::timeout(state.settings.limits.ws_send_timeout, socket.send(m)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::warn!("a WebSocket client took too long to take a message; dropped");
            false
        }
    }
}

async fn client(slot: Slot, mut socket: WebSocket, mut events: broadcast::Receiver<Arc<str>>) {
    let state = &slot.0;
    state.metrics.ws_clients.inc();
    let _counted = Counted(state);
    let mut shutdown = state.shutdown.clone();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    if *shutdown.borrow() {
        let _ = send(state, &mut socket, going_away()).await;
        return;
    }
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(frame) => {
                    if !send(state, &mut socket, Message::Text(frame.as_ref().into())).await {
                        break;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "a slow WebSocket client missed events");
                }
                Err(RecvError::Closed) => break,
            },
            _ = ping.tick() => {
                if !send(state, &mut socket, Message::Ping(Vec::new().into())).await {
                    break;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => {
                let _ = send(state, &mut socket, going_away()).await;
                break;
            }
        }
    }
}

fn going_away() -> Message {
    Message::Close(Some(CloseFrame {
        code: axum::extract::ws::close_code::AWAY,
        reason: "server shutting down".into(),
    }))
}
