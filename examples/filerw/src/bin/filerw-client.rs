//! The FILEREADWRITE client.
//!
//! ```text
//! filerw-client ENDPOINT write FILE POSITION TEXT
//! filerw-client ENDPOINT read FILE POSITION LENGTH
//! ```
//! ENDPOINT is `tcp://HOST:PORT` or `udp://HOST:PORT`; start `filerw-server` first.

use anyhow::{bail, Context};
use courier::rpc::ClientConfig;
use filerw::{version, Readargs, Writeargs};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, command, file, position, rest] = &args[..] else {
        bail!("usage: filerw-client ENDPOINT (write FILE POSITION TEXT | read FILE POSITION LENGTH)");
    };
    let client = version::Client::connect(&endpoint.parse()?, ClientConfig::default()).await?;
    let f = file.parse().context("FILE is a number")?;
    let position = position.parse().context("POSITION is a number")?;
    match command.as_str() {
        "write" => {
            client.write(&Writeargs { f, position, data: filerw::data(rest.as_bytes()) }).await?;
            println!("write=ok");
        }
        "read" => {
            let length = rest.parse().context("LENGTH is a number")?;
            let data = client.read(&Readargs { f, position, length }).await?;
            let n = usize::try_from(data.length).unwrap_or(0).min(data.buffer.len());
            println!("read={} {}", data.length, String::from_utf8_lossy(&data.buffer[..n]));
        }
        other => bail!("unknown command `{other}`: write or read"),
    }
    Ok(())
}
