//! Raw ONC RPC on a stream, for tests that write calls by hand and read the replies
//! byte for byte: record marking (RFC 5531 §11) and XDR words.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// How long a test waits for a reply record before it fails.
const REPLY_WITHIN: Duration = Duration::from_secs(5);

/// `words` as XDR unsigned integers (big-endian).
pub fn words(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// `message` as one record: a last fragment holding all of it.
pub fn record(message: &[u8]) -> Vec<u8> {
    let mark = 0x8000_0000 | u32::try_from(message.len()).expect("a test record fits a fragment");
    [&mark.to_be_bytes()[..], message].concat()
}

/// Reads one record of a single fragment from `stream` (failing the test if none comes
/// within five seconds) and returns it as XDR words, the xid first.
pub async fn read_record_words(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u32> {
    let read = async {
        let mut mark = [0u8; 4];
        stream.read_exact(&mut mark).await?;
        let mut message = vec![0u8; (u32::from_be_bytes(mark) & 0x7fff_ffff) as usize];
        stream.read_exact(&mut message).await?;
        std::io::Result::Ok(message)
    };
    let message = tokio::time::timeout(REPLY_WITHIN, read).await.expect("no reply record in time").unwrap();
    message.chunks(4).map(|c| u32::from_be_bytes(c.try_into().expect("whole words"))).collect()
}
