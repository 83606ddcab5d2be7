//! The fuzz target's property (`vnx::scenario::fuzz::check_one`) on stable Rust, as CI runs it:
//! every input of the kept corpus (`fuzz/corpus/scenario_read`, which libFuzzer runs grow), the
//! VNX corpus, and a few thousand inputs generated from them — byte mutations, and structured
//! ones that stress what the readers bound: nested aliases and deep nesting.

mod common;

use vnx::scenario::fuzz::check_one;

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut dirs = vec![common::root().join("fuzz/corpus/scenario_read")];
    dirs.push(common::corpus().join("scenarios"));
    dirs.push(common::corpus().join("modify"));
    let mut v = Vec::new();
    for d in dirs {
        let mut files: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files.into_iter().filter(|f| f.is_file()) {
            v.push((f.display().to_string(), std::fs::read(&f).unwrap()));
        }
    }
    assert!(v.len() > 20, "the corpus is there");
    v
}

/// Pieces that reach the readers' bounds and special cases.
const TOKENS: &[&str] = &[
    "&a ",
    "*a",
    "<<: *a\n",
    "[",
    "]",
    "{",
    "}",
    "<a>",
    "</a>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&#0;",
    "\n  - ",
    ": ",
    "\"",
    "'",
    "..",
    "/",
    "\u{0}",
    "é",
    "<vm name=\"..\">",
    "name: ..\n",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.splice(at..at, TOKENS[rng.below(TOKENS.len())].bytes()).for_each(drop),
            2 if at < v.len() => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at..end);
            }
            3 if at < v.len() => {
                // A chunk copied elsewhere (repeats elements and keys).
                let end = (at + rng.below(256)).min(v.len());
                let chunk = v[at..end].to_vec();
                let to = rng.below(v.len() + 1);
                v.splice(to..to, chunk).for_each(drop);
            }
            _ => v.truncate(at),
        }
    }
    v
}

/// Aliases nested `depth` levels with `fan` copies each, and collections nested `nest` deep.
fn structured(depth: usize, fan: usize, nest: usize) -> [String; 3] {
    let mut laughs = "version: \"2.0\"\nl0: &l0 [x]\n".to_string();
    for d in 1..=depth {
        let refs = vec![format!("*l{}", d - 1); fan].join(", ");
        laughs.push_str(&format!("l{d}: &l{d} [{refs}]\n"));
    }
    laughs.push_str(&format!("name: *l{depth}\n"));
    let yaml = (0..nest).map(|i| format!("{}a:\n", "  ".repeat(i))).collect::<String>() + &"  ".repeat(nest) + "x\n";
    let xml = format!("<vnx>{}{}</vnx>", "<net>".repeat(nest), "</net>".repeat(nest));
    [laughs, yaml, xml]
}

#[test]
fn the_corpus_and_generated_inputs_hold_the_property() {
    let seeds = seeds();
    for (name, s) in &seeds {
        eprintln!("{name}");
        check_one(s);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..3000 {
        let (_, seed) = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        // On failure, the input that broke it (to add to fuzz/corpus/scenario_read).
        let r = std::panic::catch_unwind(|| check_one(&input));
        assert!(r.is_ok(), "generated input {i} broke the property:\n{}", String::from_utf8_lossy(&input));
    }
    for depth in [1, 3, 6, 12] {
        for fan in [2, 10, 100] {
            for nest in [1, 63, 64, 65, 500] {
                for input in structured(depth, fan, nest) {
                    check_one(input.as_bytes());
                }
            }
        }
    }
}
