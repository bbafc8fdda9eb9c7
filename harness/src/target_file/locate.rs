//! Where a field sits in a target file, so that an error can name its line.
//!
//! The file is checked after it is parsed, when the spans are gone; rather than
//! carry a span on every field, a field's line is found again by reading the
//! text: the table headers in order and the keys under each.

/// The line (from 1) of `field` in `text`, e.g. `nodes.count`,
/// `operations.read.value` or `roles[1].start`; the line of its table when the
/// key itself is absent (a missing field is reported where it belongs), and
/// `None` when neither is written.
pub fn line_of(text: &str, field: &str) -> Option<usize> {
    let path: Vec<Segment> = field.split('.').map(Segment::parse).collect();
    let headers = headers(text);
    // The longest table prefix that is written as a header wins: `operations.read.value`
    // is the key `value` under `[operations.read]`; `nodes.ready.timeout_s` could be a
    // key under `[nodes.ready]` or the dotted key `ready.timeout_s` under `[nodes]`.
    for split in (0..path.len()).rev() {
        let (table, keys) = path.split_at(split);
        if let Some(line) = find_key(text, &headers, table, keys) {
            return Some(line);
        }
    }
    (1..path.len())
        .rev()
        .find_map(|split| find_header(&headers, &path[..split]))
}

#[derive(Debug, PartialEq)]
struct Segment<'a> {
    name: &'a str,
    index: Option<usize>,
}

impl<'a> Segment<'a> {
    fn parse(text: &'a str) -> Segment<'a> {
        match text.strip_suffix(']').and_then(|rest| rest.split_once('[')) {
            Some((name, index)) => Segment {
                name,
                index: index.parse().ok(),
            },
            None => Segment {
                name: text,
                index: None,
            },
        }
    }
}

/// The tables in order: each header's line and dotted name, with how many
/// `[[name]]` came before it (its index in the array of tables).
fn headers(text: &str) -> Vec<(usize, String, usize)> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        let (name, array) = if let Some(inner) = line
            .strip_prefix("[[")
            .and_then(|rest| rest.split_once("]]"))
        {
            (inner.0, true)
        } else if let Some(inner) = line.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
            (inner.0, false)
        } else {
            continue;
        };
        let name: String = name.split('.').map(str::trim).collect::<Vec<_>>().join(".");
        let index = if array {
            let count = seen.entry(name.clone()).or_default();
            *count += 1;
            *count - 1
        } else {
            0
        };
        found.push((number + 1, name, index));
    }
    found
}

fn matches(header: &(usize, String, usize), table: &[Segment]) -> bool {
    let name: Vec<&str> = table.iter().map(|segment| segment.name).collect();
    let index = table.last().and_then(|segment| segment.index).unwrap_or(0);
    header.1 == name.join(".") && header.2 == index
}

fn find_header(headers: &[(usize, String, usize)], table: &[Segment]) -> Option<usize> {
    headers
        .iter()
        .find(|header| matches(header, table))
        .map(|header| header.0)
}

/// The line of the dotted key `keys` inside `table` (the top level when empty).
fn find_key(
    text: &str,
    headers: &[(usize, String, usize)],
    table: &[Segment],
    keys: &[Segment],
) -> Option<usize> {
    let key: Vec<&str> = keys.iter().map(|segment| segment.name).collect();
    let key = key.join(".");
    let (first, last) = if table.is_empty() {
        (1, headers.first().map_or(usize::MAX, |header| header.0))
    } else {
        let position = headers.iter().position(|header| matches(header, table))?;
        let end = headers
            .get(position + 1)
            .map_or(usize::MAX, |header| header.0);
        (headers[position].0 + 1, end)
    };
    text.lines()
        .enumerate()
        .map(|(number, line)| (number + 1, line))
        .filter(|(number, _)| (first..last).contains(number))
        .find(|(_, line)| {
            line.split_once('=').is_some_and(|(name, _)| {
                let name: Vec<&str> = name
                    .split('.')
                    .map(|part| part.trim().trim_matches('"'))
                    .collect();
                name.join(".") == key
            })
        })
        .map(|(number, _)| number)
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const TEXT: &str = "name = \"x\"\n\
[nodes]\n\
count = 3\n\
ready.timeout_s = 5\n\
[[roles]]\n\
name = \"master\"\n\
[[roles]]\n\
name = \"spare\"\n\
start = \"run\"\n\
[operations.read]\n\
method = \"GET\"\n";

    #[test]
    fn keys_are_found_under_their_table() {
        assert_eq!(line_of(TEXT, "name"), Some(1));
        assert_eq!(line_of(TEXT, "nodes.count"), Some(3));
        assert_eq!(line_of(TEXT, "nodes.ready.timeout_s"), Some(4));
        assert_eq!(line_of(TEXT, "roles[1].start"), Some(9));
        assert_eq!(line_of(TEXT, "roles[0].name"), Some(6));
        assert_eq!(line_of(TEXT, "operations.read.method"), Some(11));
    }

    #[test]
    fn a_missing_key_points_at_its_table() {
        assert_eq!(line_of(TEXT, "operations.read.value"), Some(10));
        assert_eq!(line_of(TEXT, "roles[0].start"), Some(5));
        assert_eq!(line_of(TEXT, "nodes.stop"), Some(2));
        assert_eq!(line_of(TEXT, "bugs.flag"), None);
    }
}
