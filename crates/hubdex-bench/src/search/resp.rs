//! Just enough of Redis's protocol (RESP2) to load a hash and scan it: commands as arrays of
//! bulk strings, replies of every RESP2 type.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Largest bulk string or array accepted in a reply.
const MAX_LEN: usize = 512 * 1024 * 1024;

/// One reply.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// `+OK`.
    Simple(String),
    /// `-ERR …`.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nabc` (`None` for the null bulk string).
    Bulk(Option<Vec<u8>>),
    /// `*2\r\n…` (`None` for the null array).
    Array(Option<Vec<Reply>>),
}

/// A connection to a Redis server.
pub struct Redis {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Redis {
    /// Connects to the server at `addr`.
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Redis> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (read, writer) = stream.into_split();
        Ok(Redis {
            reader: BufReader::with_capacity(256 * 1024, read),
            writer,
        })
    }

    /// Sends one command and reads its reply; an error reply is an error.
    pub async fn command(&mut self, args: &[&[u8]]) -> anyhow::Result<Reply> {
        let mut out = Vec::with_capacity(args.iter().map(|a| a.len() + 16).sum::<usize>() + 16);
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out).await?;
        match self.read_reply().await? {
            Reply::Error(message) => bail!("redis answered an error: {message}"),
            reply => Ok(reply),
        }
    }

    fn read_reply(&mut self) -> Pin<Box<dyn Future<Output = anyhow::Result<Reply>> + Send + '_>> {
        Box::pin(async move {
            let mut line = String::new();
            if self.reader.read_line(&mut line).await? == 0 {
                bail!("redis closed the connection");
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let (kind, rest) = line.split_at_checked(1).context("an empty reply line")?;
            let length = |rest: &str| -> anyhow::Result<Option<usize>> {
                let n: i64 = rest
                    .parse()
                    .with_context(|| format!("bad length {rest:?}"))?;
                match usize::try_from(n) {
                    Ok(n) if n <= MAX_LEN => Ok(Some(n)),
                    Ok(n) => bail!("a reply of {n} is too large"),
                    Err(_) => Ok(None),
                }
            };
            Ok(match kind {
                "+" => Reply::Simple(rest.to_string()),
                "-" => Reply::Error(rest.to_string()),
                ":" => Reply::Integer(rest.parse().context("bad integer reply")?),
                "$" => match length(rest)? {
                    None => Reply::Bulk(None),
                    Some(n) => {
                        let mut data = vec![0; n + 2];
                        self.reader.read_exact(&mut data).await?;
                        data.truncate(n);
                        Reply::Bulk(Some(data))
                    }
                },
                "*" => match length(rest)? {
                    None => Reply::Array(None),
                    Some(n) => {
                        let mut items = Vec::with_capacity(n.min(4096));
                        for _ in 0..n {
                            items.push(self.read_reply().await?);
                        }
                        Reply::Array(Some(items))
                    }
                },
                other => bail!("unknown reply type {other:?}"),
            })
        })
    }
}

/// One `HSCAN` step: the next cursor and how many fields matched.
pub fn scan_step(reply: Reply) -> anyhow::Result<(Vec<u8>, usize)> {
    let Reply::Array(Some(mut parts)) = reply else {
        bail!("HSCAN did not answer an array");
    };
    let (Some(Reply::Array(Some(pairs))), Some(Reply::Bulk(Some(cursor)))) =
        (parts.pop(), parts.pop())
    else {
        bail!("HSCAN did not answer [cursor, [field, value, …]]");
    };
    Ok((cursor, pairs.len() / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commands_are_sent_as_bulk_arrays_and_nested_replies_are_read() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            let n = socket.read(&mut buf).await.unwrap();
            let sent = String::from_utf8_lossy(&buf[..n]).into_owned();
            socket
                .write_all(b"*2\r\n$1\r\n7\r\n*4\r\n$3\r\na/b\r\n$2\r\n{}\r\n$3\r\nc/d\r\n$-1\r\n")
                .await
                .unwrap();
            let _ = socket.read(&mut buf).await.unwrap();
            socket.write_all(b"-ERR wrong type\r\n").await.unwrap();
            sent
        });
        let mut redis = Redis::connect(addr).await.unwrap();
        let reply = redis
            .command(&[b"HSCAN", b"h", b"0", b"MATCH", b"*a*"])
            .await
            .unwrap();
        assert_eq!(scan_step(reply).unwrap(), (b"7".to_vec(), 2));
        let err = redis.command(&[b"GET", b"h"]).await.unwrap_err();
        assert!(err.to_string().contains("wrong type"), "{err}");
        let sent = server.await.unwrap();
        assert_eq!(
            sent,
            "*5\r\n$5\r\nHSCAN\r\n$1\r\nh\r\n$1\r\n0\r\n$5\r\nMATCH\r\n$3\r\n*a*\r\n"
        );
    }
}
