//! Property: whatever point the last segment is cut at (a crash mid-write),
//! possibly followed by garbage, reopening yields a prefix of what was
//! written, and appending continues right after it.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;

use common::{opts, read_all};
use orch_journal::segment::list_segments;
use orch_journal::{Journal, Mode};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn cut_last_segment_reopens_to_a_prefix(
        sizes in prop::collection::vec(0usize..300, 1..80),
        small_segments in any::<bool>(),
        cut_frac in 0.0f64..=1.0,
        garbage in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let o = opts(Mode::Os, if small_segments { 700 } else { 1 << 20 });
        let written: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|k| (i * 31 + k) as u8).collect())
            .collect();
        {
            let (j, _) = Journal::open(dir, o.clone()).unwrap();
            let tickets: Vec<_> = written.iter().map(|p| j.append(p.clone())).collect();
            for (i, t) in tickets.into_iter().enumerate() {
                prop_assert_eq!(t.wait().unwrap(), i as u64 + 1);
            }
        }

        let segs = list_segments(dir).unwrap();
        let last = segs.last().unwrap();
        let len = fs::metadata(&last.path).unwrap().len();
        let cut = ((len as f64) * cut_frac) as u64;
        let f = OpenOptions::new().write(true).open(&last.path).unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        OpenOptions::new().append(true).open(&last.path).unwrap().write_all(&garbage).unwrap();

        let (j, rec) = Journal::open(dir, o).unwrap();
        let k = rec.last_seq;
        // Everything in earlier segments survives; nothing beyond what was written appears.
        prop_assert!(k >= last.first_seq - 1);
        prop_assert!(k <= written.len() as u64);
        prop_assert_eq!(fs::metadata(&last.path).unwrap().len() <= cut, true);
        prop_assert_eq!(j.append(b"next".to_vec()).wait().unwrap(), k + 1);
        drop(j);

        let got = read_all(dir);
        let mut want: Vec<(u64, Vec<u8>)> = written[..k as usize]
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u64 + 1, p.clone()))
            .collect();
        want.push((k + 1, b"next".to_vec()));
        prop_assert_eq!(got, want);
    }
}
