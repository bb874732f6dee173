//! PAX extended headers (`x` for the next member, `g` for all that follow):
//! records of the form `LEN KEY=VALUE\n`, where LEN counts the whole record.
//! Parsed from a buffer the reader has already bounded by
//! [`super::reader::MAX_EXTENSION`], so no record can ask for more memory.

use super::Error;

fn corrupt(message: impl Into<String>) -> Error {
    Error::Corrupt(message.into())
}

/// One `KEY=VALUE` record; the value is bytes (it may not be UTF-8, e.g.
/// under `hdrcharset=BINARY`).
pub(crate) type Record = (String, Vec<u8>);

/// Parse every record of an extended header's data. Trailing NUL padding is
/// allowed (some writers pad the member); anything else malformed is an
/// error naming what is wrong.
pub(crate) fn parse(data: &[u8]) -> Result<Vec<Record>, Error> {
    let mut records = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .filter(|&i| i > 0 && i <= 20)
            .ok_or_else(|| corrupt("PAX record without a length"))?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| corrupt("PAX record length is not a number"))?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(corrupt(format!(
                "PAX record length {len} does not fit the header"
            )));
        }
        let body = &rest[space + 1..len - 1];
        let eq = body
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| corrupt("PAX record without '='"))?;
        let key = std::str::from_utf8(&body[..eq])
            .map_err(|_| corrupt("PAX record key is not UTF-8"))?
            .to_string();
        records.push((key, body[eq + 1..].to_vec()));
        rest = &rest[len..];
    }
    Ok(records)
}

/// Encode records in the same form: the parser's tests write with it
/// (pack's PAX headers come from the tar crate's builder).
#[cfg(test)]
fn encode(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        // LEN counts its own digits: grow until it is consistent.
        let body = key.len() + value.len() + 3; // ' ', '=', '\n'
        let mut len = body + 1;
        while len != body + len.to_string().len() {
            len = body + len.to_string().len();
        }
        out.extend_from_slice(format!("{len} {key}=").as_bytes());
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

/// The value of the last record named `key` (later records override).
pub(crate) fn get<'a>(records: &'a [Record], key: &str) -> Option<&'a [u8]> {
    records
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
}

/// A record's value as an unsigned decimal.
pub(crate) fn number(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_last_one_wins() {
        let data = encode(&[
            ("path", b"a/b"),
            ("mtime", b"-1.5"),
            ("path", b"\xffbinary"),
            ("k", &[b'x'; 95]),
        ]);
        assert!(data.starts_with(b"12 path=a/b\n14 mtime=-1.5\n"));
        let records = parse(&data).unwrap();
        assert_eq!(records.len(), 4);
        assert_eq!(get(&records, "path"), Some(&b"\xffbinary"[..]));
        assert_eq!(get(&records, "k").unwrap().len(), 95);
        let mut padded = data.clone();
        padded.extend_from_slice(&[0; 300]);
        assert_eq!(parse(&padded).unwrap(), records);
    }

    #[test]
    fn malformed_records_are_errors() {
        for bad in [
            &b"garbage"[..],
            b"5 a=b\n",
            b"99 path=x\n",
            b"11 pathxyz\n",
            b"0 =\n",
            b"12 path=a/b!",
            b"99999999999999999999999 a=b\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(number(b"123"), Some(123));
        assert_eq!(number(b"-1"), None);
    }
}
