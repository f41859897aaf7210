//! `wrap`'s reading of a child's stdout: lines of at most `max` bytes. Input: the first byte
//! sets `max`, the second the read buffer's size, the rest is the output. The lines must be the
//! definition's, whatever the buffer size; JSON on a line must parse back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_tool_server::wrap::fuzzing::{SplitLine, split_lines};

fuzz_target!(|data: &[u8]| {
    let [max, capacity, stdout @ ..] = data else {
        return;
    };
    let max = usize::from(*max);
    let got = split_lines(stdout, max, usize::from(*capacity).max(1));
    let mut pieces: Vec<&[u8]> = stdout.split(|&b| b == b'\n').collect();
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    let expected: Vec<SplitLine> = pieces
        .into_iter()
        .map(|line| {
            if line.len() > max {
                SplitLine::TooLong(line.len())
            } else {
                SplitLine::Text(line.strip_suffix(b"\r").unwrap_or(line).to_vec())
            }
        })
        .collect();
    assert_eq!(got, expected);
});
