//! Program names: those of `/etc/rpc` (`name number aliases…`), as rpcinfo shows them,
//! and courier's own.

/// The text of `/etc/rpc`, or nothing where the file is missing.
pub fn etc_rpc() -> String {
    std::fs::read_to_string("/etc/rpc").unwrap_or_default()
}

/// The entries of an `/etc/rpc` text: each name (its first word) with its number and
/// aliases.
fn entries(table: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    table.lines().filter_map(|line| {
        let mut words = line.split('#').next()?.split_whitespace();
        let name = words.next()?;
        let number = words.next()?.parse().ok()?;
        Some((name, number, words.collect()))
    })
}

/// The number of a program name or alias in `table`.
pub fn number_of(table: &str, name: &str) -> Option<u32> {
    entries(table).find(|(n, _, aliases)| *n == name || aliases.contains(&name)).map(|(_, number, _)| number)
}

/// The name of a program number: courier's own, else the first in `table`.
pub fn name_of(table: &str, number: u32) -> Option<String> {
    if number == courier::diag::PROGRAM {
        return Some("courier-diag".to_owned());
    }
    if number == courier::object::registry::PROGRAM {
        return Some("courier-registry".to_owned());
    }
    if number == courier::mailbox::protocol::PROGRAM {
        return Some("courier-mailbox".to_owned());
    }
    entries(table).find(|(_, n, _)| *n == number).map(|(name, _, _)| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "# comment\nportmapper\t100000\tportmap sunrpc rpcbind\nnfs\t\t100003\tnfsprog\n";

    #[test]
    fn names_and_numbers_come_from_the_table() {
        assert_eq!(number_of(TABLE, "rpcbind"), Some(100_000));
        assert_eq!(number_of(TABLE, "nfs"), Some(100_003));
        assert_eq!(number_of(TABLE, "comment"), None);
        assert_eq!(name_of(TABLE, 100_003).as_deref(), Some("nfs"));
        assert_eq!(name_of(TABLE, courier::diag::PROGRAM).as_deref(), Some("courier-diag"));
        assert_eq!(name_of(TABLE, 7), None);
    }
}
