//! A minimal HTTP/1.1 keep-alive client: one request at a time on one connection.
//!
//! The throughput run shares the machine's two cores with the daemon it measures, so the
//! load generator must cost as little as possible per request; this one writes a request
//! line and reads a `Content-Length` or chunked body, nothing more.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Most header lines one response may have.
const MAX_HEADERS: usize = 100;
/// Largest body accepted (a search page or a catalog page is far smaller).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One keep-alive connection to a local HTTP server.
pub struct Connection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    host: String,
    request: Vec<u8>,
}

/// A response: its status, the headers asked about, and the body.
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Link` header, if any (catalog pages).
    pub link: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Connection {
    /// Connects, with `TCP_NODELAY` so small requests are not delayed.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to http://{addr}"))?;
        stream.set_nodelay(true)?;
        let (read, writer) = stream.into_split();
        Ok(Connection {
            reader: BufReader::with_capacity(64 * 1024, read),
            writer,
            host: addr.to_string(),
            request: Vec::with_capacity(512),
        })
    }

    /// Sends `method path` (path with its query string) and reads the whole response.
    pub async fn request(&mut self, method: &str, path: &str) -> anyhow::Result<Response> {
        self.request.clear();
        self.request.extend_from_slice(
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
                self.host
            )
            .as_bytes(),
        );
        self.writer.write_all(&self.request).await?;
        self.read_response()
            .await
            .with_context(|| format!("reading the answer to {method} {path}"))
    }

    async fn read_response(&mut self) -> anyhow::Result<Response> {
        let mut line = String::new();
        self.reader.read_line(&mut line).await?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .with_context(|| format!("not an HTTP status line: {line:?}"))?;
        let mut length = None;
        let mut chunked = false;
        let mut link = None;
        let mut headers = 0;
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await? == 0 {
                bail!("the connection closed inside the headers");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            headers += 1;
            if headers > MAX_HEADERS {
                bail!("more than {MAX_HEADERS} header lines");
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().context("bad Content-Length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("link") {
                link = Some(value.to_string());
            }
        }
        let body = match (chunked, length) {
            (true, _) => self.read_chunked().await?,
            (false, Some(length)) if length <= MAX_BODY => {
                let mut body = vec![0; length];
                self.reader.read_exact(&mut body).await?;
                body
            }
            (false, Some(length)) => bail!("a body of {length} bytes is too large"),
            (false, None) => bail!("a response without Content-Length cannot be kept alive"),
        };
        Ok(Response { status, link, body })
    }

    async fn read_chunked(&mut self) -> anyhow::Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).await?;
            let size = line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size, 16).context("bad chunk size")?;
            if body.len() + size > MAX_BODY {
                bail!("a chunked body over {MAX_BODY} bytes is too large");
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.reader.read_exact(&mut body[start..]).await?;
            line.clear();
            self.reader.read_line(&mut line).await?;
            if size == 0 {
                return Ok(body);
            }
        }
    }
}

/// `text` percent-encoded for a query string value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The path and query of the `rel="next"` URL of a `Link` header.
pub fn next_path(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        if !params.contains("rel=\"next\"") {
            return None;
        }
        let url = url.trim().trim_start_matches('<').trim_end_matches('>');
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        Some(path.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode("license:mit size:<1GB"),
            "license%3Amit%20size%3A%3C1GB"
        );
        assert_eq!(encode("a-b_c.d~"), "a-b_c.d~");
    }

    #[test]
    fn the_next_page_path_is_read_from_a_link_header() {
        let link = "<http://127.0.0.1:9/api/datasets?cursor=abc&limit=1000>; rel=\"next\"";
        assert_eq!(
            next_path(link).as_deref(),
            Some("/api/datasets?cursor=abc&limit=1000")
        );
        assert_eq!(next_path("<http://x/y>; rel=\"prev\""), None);
    }

    #[tokio::test]
    async fn keep_alive_reads_length_and_chunked_bodies_in_turn() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            let _ = socket.read(&mut buf).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nLink: <http://h/p?c=1>; rel=\"next\"\r\n\r\nhello")
                .await
                .unwrap();
            let _ = socket.read(&mut buf).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
                .await
                .unwrap();
        });
        let mut conn = Connection::open(addr).await.unwrap();
        let first = conn.request("GET", "/one").await.unwrap();
        assert_eq!((first.status, first.body.as_slice()), (200, &b"hello"[..]));
        assert_eq!(
            first.link.as_deref().and_then(next_path).as_deref(),
            Some("/p?c=1")
        );
        let second = conn.request("GET", "/two").await.unwrap();
        assert_eq!(
            (second.status, second.body.as_slice()),
            (404, &b"abcde"[..])
        );
        server.await.unwrap();
    }
}
