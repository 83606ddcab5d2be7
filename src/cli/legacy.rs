//! VNX's command line (`vnx -f FILE -v --create`, `-x SEQ`, `--destroy`, …) mapped onto the
//! new commands. Each use says once, on stderr, what the new command is.

/// The modes of VNX's command line, and what they become.
const MODES: &[(&str, Option<&str>)] = &[
    ("--create", Some("apply")),
    ("-t", Some("apply")),
    ("--destroy", Some("destroy")),
    ("-P", Some("destroy")),
    ("--purge", Some("destroy")),
    ("--execute", Some("exec")),
    ("-x", Some("exec")),
    ("--show-status", Some("show")),
    ("--show-map", Some("graph")),
    ("--modify", Some("modify")),
    ("--console", Some("console")),
    ("--console-info", Some("show")),
    ("--exe-info", Some("exec-info")),
    ("--define", None),
    ("--start", Some("start")),
    ("--shutdown", Some("shutdown")),
    ("-d", Some("shutdown")),
    ("--reboot", Some("reboot")),
    ("--reset", Some("reset")),
    ("--suspend", Some("suspend")),
    ("--resume", Some("resume")),
    ("--save", Some("save")),
    ("--restore", Some("restore")),
];

/// When `args` (without the program name) is a VNX command line, the new one; `Err` for a VNX
/// mode vnx does not have yet.
pub fn translate(args: &[String]) -> Option<Result<Vec<String>, String>> {
    let is_legacy = args.iter().any(|a| a == "-f" || a == "-s" || a.starts_with("--file"))
        && args.iter().any(|a| MODES.iter().any(|(m, _)| a == m));
    if !is_legacy {
        return None;
    }
    let mut file = None;
    let mut mode: Option<(&str, Option<&str>)> = None;
    let mut mode_arg = None;
    let mut nodes: Vec<String> = Vec::new();
    let mut kill = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let next = args.get(i + 1).cloned();
        match a {
            "-f" | "-s" | "--file" => {
                file = next;
                i += 1;
            }
            "-M" => {
                nodes.extend(next.unwrap_or_default().split(',').filter(|s| !s.is_empty()).map(String::from));
                i += 1;
            }
            // Accepted as VNX had them; they change nothing here.
            "-v" | "-vv" | "-vvv" | "-n" | "--no-console" | "-y" | "-b" | "--intervm-delay" => {
                if a == "--intervm-delay" {
                    i += 1;
                }
            }
            "--cfg-dir" | "-c" | "-C" | "-T" => i += 1,
            "--kill" => kill = true,
            m => {
                if let Some((name, new)) = MODES.iter().find(|(x, _)| *x == m) {
                    mode = Some((name, *new));
                    if matches!(*name, "--execute" | "-x" | "--modify") {
                        mode_arg = next;
                        i += 1;
                    }
                } else {
                    return Some(Err(format!("`{m}` is not a VNX option vnx knows")));
                }
            }
        }
        i += 1;
    }
    let Some(file) = file else { return Some(Err("-f FILE is missing".into())) };
    let (name, new) = mode.expect("is_legacy found a mode");
    let Some(new) = new else {
        return Some(Err(format!(
            "VNX's `{name}` has no equivalent: vnx apply defines and starts; vnx shutdown keeps nodes defined but off"
        )));
    };
    let mut out: Vec<String> = vec![new.to_string()];
    match new {
        "apply" | "destroy" => {
            out.push(file);
            out.push("--auto-approve".into());
            // VNX's --create brings the scenario up, nodes shut down before included.
            if new == "apply" {
                out.push("--start".into());
            }
            for n in &nodes {
                out.extend(["--target".into(), n.clone()]);
            }
        }
        "exec" => {
            out.push(file);
            out.push(mode_arg.unwrap_or_default());
            if !nodes.is_empty() {
                out.extend(["-M".into(), nodes.join(",")]);
            }
        }
        "modify" => {
            out.push(file);
            out.push(mode_arg.unwrap_or_default());
            out.push("--auto-approve".into());
        }
        "console" => {
            // One console at a time: VNX opened a window per node, a terminal holds one.
            match nodes.as_slice() {
                [node] => {
                    out.push(file);
                    out.extend(["-M".into(), node.clone()]);
                }
                [] => return Some(Err("--console needs the node: -M NODE".into())),
                more => {
                    return Some(Err(format!(
                        "--console opens one node's console at a time (-M {}): run it once per node",
                        more.join(",")
                    )))
                }
            }
        }
        "start" | "shutdown" | "reboot" | "reset" | "suspend" | "resume" | "save" | "restore" => {
            out.push(file);
            if !nodes.is_empty() {
                out.extend(["-M".into(), nodes.join(",")]);
            }
            if kill && new == "shutdown" {
                out.push("--kill".into());
            }
        }
        "exec-info" => {
            out = vec!["exec".into(), file, "--list".into()];
        }
        // VNX showed the map in a window: a picture, opened where there is a display.
        "graph" => {
            out.push(file);
            out.push("--open".into());
        }
        _ => out.push(file),
    }
    Some(Ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<Result<Vec<String>, String>> {
        translate(&s.split(' ').map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn vnx_command_lines_become_new_commands() {
        assert_eq!(t("-f lab.xml -v --create").unwrap().unwrap(), ["apply", "lab.xml", "--auto-approve", "--start"]);
        assert!(t("-f lab.xml --console").unwrap().unwrap_err().contains("-M NODE"));
        assert!(t("-f lab.xml --console -M h1,h2").unwrap().unwrap_err().contains("one node's console at a time"));
        assert_eq!(t("-f lab.xml --console -M h1").unwrap().unwrap(), ["console", "lab.xml", "-M", "h1"]);
        assert_eq!(t("-f lab.xml --exe-info").unwrap().unwrap(), ["exec", "lab.xml", "--list"]);
        assert_eq!(t("-f lab.xml -v -x ls1234 -M h2").unwrap().unwrap(), ["exec", "lab.xml", "ls1234", "-M", "h2"]);
        assert_eq!(
            t("-f lab.xml --destroy -M h1,h2").unwrap().unwrap(),
            ["destroy", "lab.xml", "--auto-approve", "--target", "h1", "--target", "h2"]
        );
        assert_eq!(t("-f lab.xml --show-status").unwrap().unwrap(), ["show", "lab.xml"]);
        assert_eq!(t("-s lab --modify add.xml").unwrap().unwrap(), ["modify", "lab", "add.xml", "--auto-approve"]);
        assert_eq!(t("-f lab.xml --shutdown -M r1,r2").unwrap().unwrap(), ["shutdown", "lab.xml", "-M", "r1,r2"]);
        assert_eq!(t("-f lab.xml -d --kill").unwrap().unwrap(), ["shutdown", "lab.xml", "--kill"]);
        assert_eq!(t("-f lab.xml --start").unwrap().unwrap(), ["start", "lab.xml"]);
        assert!(t("-f lab.xml --define").unwrap().is_err());
        assert_eq!(t("-f lab.xml --show-map").unwrap().unwrap(), ["graph", "lab.xml", "--open"]);
        assert!(t("plan lab.xml").is_none());
    }
}
