//! "Did you mean": the closest known name to a misspelled one, for the
//! help lines of E0201, E0202, E0301, E0401 and the command line's errors.

/// The closest candidate by edit distance, if it is close enough.
pub fn did_you_mean<'s>(name: &str, candidates: impl Iterator<Item = &'s str>) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c.is_empty() || c == name {
            continue;
        }
        // case matters (mS is not MS), so exact-case distance first
        let d = edit_distance(name, c) * 2 + usize::from(edit_distance(&name.to_lowercase(), &c.to_lowercase()) > 0);
        let limit = 2 * (name.chars().count().max(c.chars().count()) / 3).max(1) + 1;
        let longest = name.chars().count().max(c.chars().count());
        if d <= limit && d < 2 * longest - 1 && best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// Edit distance counting a swap of two neighbours as one edit
/// (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}
