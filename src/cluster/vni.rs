//! VNIs for the nets that cross hosts: each such net gets one VXLAN segment id from the
//! cluster's range, kept across re-plans (a net that keeps crossing keeps its VNI, so its
//! VXLAN devices are not made anew), freed when it no longer crosses.

use std::collections::{BTreeMap, BTreeSet};

/// The VNI of each net in `crossing`: its recorded one when it had one in the range, else the
/// lowest free one. Fails, naming the nets left, when the range is too small.
pub fn allocate(
    crossing: &[String],
    (first, last): (u32, u32),
    recorded: &BTreeMap<String, u32>,
) -> Result<BTreeMap<String, u32>, String> {
    let mut out = BTreeMap::new();
    let mut used = BTreeSet::new();
    for net in crossing {
        if let Some(v) = recorded.get(net).filter(|v| (first..=last).contains(*v) && !used.contains(*v)) {
            out.insert(net.clone(), *v);
            used.insert(*v);
        }
    }
    let mut free = (first..=last).filter(|v| !used.contains(v));
    let mut left = vec![];
    let unplaced: Vec<&String> = crossing.iter().filter(|n| !out.contains_key(*n)).collect();
    for net in unplaced {
        match free.next() {
            Some(v) => {
                out.insert(net.clone(), v);
            }
            None => left.push(net.as_str()),
        }
    }
    if !left.is_empty() {
        return Err(format!(
            "the VNI range {first}-{last} has no room for net(s) {}: widen `vni:` in the cluster file",
            left.join(", ")
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nets_keep_their_vnis_and_new_ones_take_the_lowest_free() {
        let first = allocate(&nets(&["a", "b"]), (6000, 6009), &BTreeMap::new()).unwrap();
        assert_eq!(first, BTreeMap::from([("a".into(), 6000), ("b".into(), 6001)]));
        // `a` no longer crosses, `c` does now: `b` keeps 6001, `c` takes the freed 6000.
        let second = allocate(&nets(&["b", "c"]), (6000, 6009), &first).unwrap();
        assert_eq!(second, BTreeMap::from([("b".into(), 6001), ("c".into(), 6000)]));
        // A recorded VNI outside a narrowed range is given anew.
        let third = allocate(&nets(&["b"]), (7000, 7000), &second).unwrap();
        assert_eq!(third["b"], 7000);
    }

    #[test]
    fn a_range_too_small_names_the_nets_left() {
        let e = allocate(&nets(&["a", "b", "c"]), (10, 11), &BTreeMap::new()).unwrap_err();
        assert!(e.contains("no room for net(s) c"), "{e}");
    }
}
