//! `vnx graph LAB --serve`: the lab's live page on loopback. `GET /` is the page, `GET /events`
//! a stream of server-sent events (each node's run state and each link's, sent when they
//! change, read four times a second), `GET /state` the same once, as JSON. One thread per
//! connection; nothing listens beyond 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::scenario::Scenario;

/// The states the page shows, as JSON: `{"nodes": {NAME: STATE}, "links": {KEY: up|down}}`.
fn snapshot(s: &Scenario, state: &vnx_state::State) -> serde_json::Value {
    let states = super::show::run_states(state, &s.name.value);
    let marks = super::graph::state_marks(s, &states);
    let links: serde_json::Map<String, serde_json::Value> =
        marks.of.iter().filter(|(k, _)| !k.starts_with("node:")).map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({"nodes": states, "links": links})
}

pub fn serve(s: &Scenario, state: vnx_state::State, port: u16) -> i32 {
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => return super::fail(&format!("cannot listen on 127.0.0.1:{port} ({e}): choose another with --port")),
    };
    let states = super::show::run_states(&state, &s.name.value);
    let topo = crate::map::Topology::of(s);
    let drawing = crate::map::layout::layout(&topo);
    let svg = crate::map::svg::svg(&drawing, &super::graph::state_marks(s, &states));
    let page = crate::map::page::page(&topo, &svg, true, super::graph::STATES_LEGEND);
    let path: PathBuf = state.path().to_path_buf();
    drop(state);
    println!("Serving the live map of {} on http://127.0.0.1:{port}/ (Ctrl+C stops).", s.name.value);
    let _ = std::io::stdout().flush();
    let shared = std::sync::Arc::new((s.clone(), page, path));
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let shared = shared.clone();
        std::thread::spawn(move || {
            let (s, page, path) = &*shared;
            let _ = answer(conn, s, page, path);
        });
    }
    super::EXIT_OK
}

fn answer(mut conn: TcpStream, s: &Scenario, page: &str, path: &std::path::Path) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // The headers, up to the empty line (nothing in them matters here).
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let target = request.split_whitespace().nth(1).unwrap_or("/");
    let reply = |conn: &mut TcpStream, status: &str, kind: &str, body: &[u8]| {
        write!(conn, "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n", body.len())?;
        conn.write_all(body)
    };
    match target {
        "/" | "/index.html" => reply(&mut conn, "200 OK", "text/html; charset=utf-8", page.as_bytes()),
        "/state" => {
            let state = vnx_state::State::open(path).map_err(std::io::Error::other)?;
            reply(&mut conn, "200 OK", "application/json", snapshot(s, &state).to_string().as_bytes())
        }
        "/events" => {
            let state = vnx_state::State::open(path).map_err(std::io::Error::other)?;
            write!(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: keep-alive\r\n\r\n")?;
            let mut last = serde_json::Value::Null;
            let mut beat = Instant::now();
            loop {
                let now = snapshot(s, &state);
                if now != last {
                    write!(conn, "data: {now}\n\n")?;
                    conn.flush()?;
                    last = now;
                    beat = Instant::now();
                } else if beat.elapsed() > Duration::from_secs(15) {
                    // A comment: a closed page is noticed here (the write fails).
                    conn.write_all(b": still here\n\n")?;
                    beat = Instant::now();
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        _ => reply(&mut conn, "404 Not Found", "text/plain", b"not found\n"),
    }
}
