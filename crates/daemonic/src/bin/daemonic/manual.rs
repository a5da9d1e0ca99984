//! `daemonic --generate man|bash|zsh|fish`: the manual pages and shell completions, generated
//! from the same text `--help` prints (each command's `USAGE`), so they cannot drift from it;
//! a test below checks that every option the parsers accept is in that text.
//!
//! The help texts follow one layout, which is what is parsed here: a `usage:` line; paragraphs;
//! sections whose first line ends in `:` at the left margin (`options:`, `commands:`, `exit
//! status …:`); in them, entries `  --name ARG   description`, continued on lines indented
//! deeper.

use std::io;
use std::path::Path;

/// A command and its help.
pub(crate) struct Page {
    /// `start`, or `""` for `daemonic` itself.
    pub(crate) command: &'static str,
    pub(crate) usage: &'static str,
}

/// Every page, `daemonic` first.
pub(crate) fn pages() -> Vec<Page> {
    vec![
        Page { command: "", usage: crate::USAGE },
        Page { command: "start", usage: crate::start_options::USAGE },
        Page { command: "stop", usage: crate::stop::USAGE },
        Page { command: "status", usage: crate::status::USAGE },
        Page { command: "restart", usage: crate::restart::USAGE },
        Page { command: "run", usage: crate::run::USAGE },
        Page { command: "signal", usage: crate::signal::USAGE },
        Page { command: "reopen", usage: crate::signal::REOPEN_USAGE },
    ]
}

/// A block of the help text.
#[derive(Debug, PartialEq, Eq)]
enum Block<'a> {
    Usage(&'a str),
    Paragraph(Vec<&'a str>),
    /// A heading (`options`, `exit status (LSB)`) and what follows it up to the next heading.
    Section(String, Vec<&'a str>),
}

fn flush<'a>(paragraph: &mut Vec<&'a str>, blocks: &mut Vec<Block<'a>>) {
    if !paragraph.is_empty() {
        blocks.push(Block::Paragraph(std::mem::take(paragraph)));
    }
}

fn blocks(usage: &str) -> Vec<Block<'_>> {
    let mut blocks = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut section: Option<(String, Vec<&str>)> = None;

    for line in usage.lines() {
        if let Some(synopsis) = line.strip_prefix("usage: ") {
            flush(&mut paragraph, &mut blocks);
            if let Some((title, lines)) = section.take() {
                blocks.push(Block::Section(title, lines));
            }
            blocks.push(Block::Usage(synopsis));
            continue;
        }
        // `options:`, `exit status (LSB): 0 running; …`: a heading, maybe with text after it; not
        // a sentence that ends in a colon.
        let head = line.split(':').next().unwrap_or_default();
        let heading = !line.starts_with(' ')
            && line.contains(':')
            && (line.starts_with("exit status") || (line.ends_with(':') && head.len() < 60 && !head.contains('.')));
        if heading {
            flush(&mut paragraph, &mut blocks);
            if let Some((title, lines)) = section.take() {
                blocks.push(Block::Section(title, lines));
            }
            let (title, rest) = line.split_once(':').unwrap_or((line, ""));
            let mut lines = Vec::new();
            if !rest.trim().is_empty() {
                lines.push(rest.trim_start());
            }
            section = Some((title.to_owned(), lines));
            continue;
        }
        // Text at the margin after a blank line ends a section: a paragraph follows it.
        if !line.is_empty() && !line.starts_with(' ') && section.as_ref().is_some_and(|(_, l)| l.last() == Some(&"")) {
            if let Some((title, lines)) = section.take() {
                blocks.push(Block::Section(title, lines));
            }
        }
        match &mut section {
            Some((_, lines)) => lines.push(line),
            None if line.is_empty() => flush(&mut paragraph, &mut blocks),
            None => paragraph.push(line),
        }
    }
    flush(&mut paragraph, &mut blocks);
    if let Some((title, lines)) = section.take() {
        blocks.push(Block::Section(title, lines));
    }
    blocks
}

/// An option entry: `--name ARG` (or a command name), its description.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) term: String,
    pub(crate) description: String,
}

impl Entry {
    /// `--pidfile` for `--pidfile FILE`; `None` for a non-option entry.
    pub(crate) fn long(&self) -> Option<&str> {
        self.term.split([' ', ',', '=']).next().filter(|name| name.starts_with("--"))
    }

    /// Whether the option takes a value (`--pidfile FILE`).
    pub(crate) fn takes_value(&self) -> bool {
        self.term
            .split_whitespace()
            .nth(1)
            .is_some_and(|arg| arg.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
    }
}

/// The entries of a section: lines indented by two, a term, two or more spaces, a description
/// (or the description on the next, deeper lines).
fn entries(lines: &[&str]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if indent == 2 {
            let (term, description) = match text.find("  ") {
                Some(at) => (text[..at].trim(), text[at..].trim()),
                None => (text, ""),
            };
            entries.push(Entry { term: term.to_owned(), description: description.to_owned() });
        } else if let Some(last) = entries.last_mut() {
            if !last.description.is_empty() {
                last.description.push(' ');
            }
            last.description.push_str(text);
        }
    }
    entries
}

/// The options a command's help lists.
pub(crate) fn options(usage: &str) -> Vec<Entry> {
    blocks(usage)
        .into_iter()
        .filter_map(|block| match block {
            Block::Section(title, lines) if title == "options" => Some(entries(&lines)),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Text for roff: backslashes escaped, a leading `.` or `'` neutralised, dashes of options
/// kept as dashes.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// The manual page of one command, in roff (man(7)).
pub(crate) fn man_page(page: &Page) -> String {
    let name = if page.command.is_empty() { "daemonic".to_owned() } else { format!("daemonic-{}", page.command) };
    let blocks = blocks(page.usage);
    let summary = blocks
        .iter()
        .find_map(|block| match block {
            Block::Paragraph(lines) => Some(lines.join(" ")),
            _ => None,
        })
        .unwrap_or_default();
    let summary = summary.split(". ").next().unwrap_or_default().trim_end_matches('.').to_owned();
    let mut out = format!(
        ".\\\" Generated by `daemonic --generate man` from the command's --help text; do not edit.\n\
         .TH {} 1 \"\" \"daemonic {}\" \"User Commands\"\n.SH NAME\n{} \\- {}\n",
        name.to_uppercase(),
        env!("CARGO_PKG_VERSION"),
        roff(&name),
        roff(&summary)
    );
    let mut description_started = false;
    for block in &blocks {
        match block {
            Block::Usage(synopsis) => out.push_str(&format!(".SH SYNOPSIS\n.nf\n{}\n.fi\n", roff(synopsis))),
            Block::Paragraph(lines) => {
                if !description_started {
                    out.push_str(".SH DESCRIPTION\n");
                    description_started = true;
                } else {
                    out.push_str(".PP\n");
                }
                out.push_str(&roff(&lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n")));
                out.push('\n');
            }
            Block::Section(title, lines) => {
                out.push_str(&format!(".SH {}\n", roff(&title.to_uppercase())));
                let listed = entries(lines);
                if !listed.is_empty() && lines.iter().all(|l| l.is_empty() || l.starts_with("  ")) {
                    for entry in listed {
                        out.push_str(&format!(".TP\n.B {}\n{}\n", roff(&entry.term), roff(&entry.description)));
                    }
                } else {
                    // Free text (an exit-status list): kept as the help shows it.
                    out.push_str(".nf\n");
                    for line in lines {
                        out.push_str(&roff(line));
                        out.push('\n');
                    }
                    out.push_str(".fi\n");
                }
            }
        }
    }
    let others: Vec<String> = pages()
        .iter()
        .filter(|other| other.command != page.command)
        .map(|other| {
            let name =
                if other.command.is_empty() { "daemonic".to_owned() } else { format!("daemonic-{}", other.command) };
            format!(".BR {} (1)", roff(&name))
        })
        .collect();
    out.push_str(&format!(".SH SEE ALSO\n{}\n", others.join(",\n")));
    out
}

/// The commands `daemonic` takes.
/// The "commands" section of the overview help: each command and what it does.
fn command_entries() -> Vec<Entry> {
    blocks(crate::USAGE)
        .into_iter()
        .filter_map(|b| match b {
            Block::Section(title, lines) if title == "commands" => Some(entries(&lines)),
            _ => None,
        })
        .flatten()
        .collect()
}

fn commands() -> Vec<&'static str> {
    pages().iter().map(|page| page.command).filter(|c| !c.is_empty()).collect()
}

/// bash completion: commands, then each command's options; a file name after an option that
/// takes one.
pub(crate) fn bash() -> String {
    let mut cases = String::new();
    let mut valued = Vec::new();
    for page in pages().iter().filter(|p| !p.command.is_empty()) {
        let options = options(page.usage);
        let names: Vec<&str> = options.iter().filter_map(Entry::long).collect();
        valued.extend(options.iter().filter(|o| o.takes_value()).filter_map(|o| o.long().map(str::to_owned)));
        cases.push_str(&format!("        {}) opts=\"{} --help\" ;;\n", page.command, names.join(" ")));
    }
    valued.sort();
    valued.dedup();
    format!(
        "# bash completion for daemonic; generated by `daemonic --generate bash` from its --help.\n\
         _daemonic() {{\n    local cur prev opts\n    cur=\"${{COMP_WORDS[COMP_CWORD]}}\"\n    prev=\"${{COMP_WORDS[COMP_CWORD-1]}}\"\n    \
         if [ \"$COMP_CWORD\" -eq 1 ]; then\n        COMPREPLY=( $(compgen -W \"{} --help --version\" -- \"$cur\") )\n        return\n    fi\n    \
         case \"$prev\" in\n        {})\n            COMPREPLY=( $(compgen -f -- \"$cur\") )\n            return ;;\n    esac\n    \
         case \"${{COMP_WORDS[1]}}\" in\n{cases}        *) opts=\"\" ;;\n    esac\n    \
         COMPREPLY=( $(compgen -W \"$opts\" -- \"$cur\") )\n}}\ncomplete -F _daemonic daemonic\n",
        commands().join(" "),
        valued.join("|")
    )
}

/// zsh completion (`#compdef daemonic`), with the options' descriptions.
pub(crate) fn zsh() -> String {
    let quote = |text: &str| text.replace('\'', "'\\''").replace('[', "\\[").replace(']', "\\]").replace(':', "\\:");
    let mut out = String::from(
        "#compdef daemonic\n# zsh completion for daemonic; generated by `daemonic --generate zsh` from its --help.\n\n_daemonic() {\n    local -a commands\n    commands=(\n",
    );
    for entry in command_entries() {
        out.push_str(&format!("        '{}:{}'\n", entry.term, quote(&entry.description)));
    }
    out.push_str("    )\n    if (( CURRENT == 2 )); then\n        _describe 'command' commands\n        return\n    fi\n    case $words[2] in\n");
    for page in pages().iter().filter(|p| !p.command.is_empty()) {
        out.push_str(&format!("        {})\n            _arguments \\\n", page.command));
        for entry in options(page.usage) {
            let Some(long) = entry.long() else { continue };
            let first = entry.description.split(". ").next().unwrap_or_default();
            let value = if entry.takes_value() { ":value:_files" } else { "" };
            out.push_str(&format!("                '{long}[{}]{value}' \\\n", quote(first)));
        }
        out.push_str("                '*::program:_normal' ;;\n");
    }
    out.push_str("    esac\n}\n\n_daemonic \"$@\"\n");
    out
}

/// fish completion.
pub(crate) fn fish() -> String {
    let quote = |text: &str| text.replace('\\', "\\\\").replace('\'', "\\'");
    let mut out =
        String::from("# fish completion for daemonic; generated by `daemonic --generate fish` from its --help.\n");
    let all = commands().join(" ");
    for entry in command_entries() {
        out.push_str(&format!(
            "complete -c daemonic -f -n 'not __fish_seen_subcommand_from {all}' -a {} -d '{}'\n",
            entry.term,
            quote(&entry.description)
        ));
    }
    for page in pages().iter().filter(|p| !p.command.is_empty()) {
        for entry in options(page.usage) {
            let Some(long) = entry.long() else { continue };
            let first = entry.description.split(". ").next().unwrap_or_default();
            out.push_str(&format!(
                "complete -c daemonic -n '__fish_seen_subcommand_from {}' -l {}{} -d '{}'\n",
                page.command,
                &long[2..],
                if entry.takes_value() { " -r" } else { "" },
                quote(first)
            ));
        }
    }
    out
}

/// Writes the manual pages (`daemonic.1`, `daemonic-start.1`, …) into `dir`.
pub(crate) fn write_man_pages(dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    for page in pages() {
        let name =
            if page.command.is_empty() { "daemonic.1".to_owned() } else { format!("daemonic-{}.1", page.command) };
        let path = dir.join(name);
        std::fs::write(&path, man_page(&page))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The options a parser accepts (`Long("name")` in its source), for the drift check.
    fn accepted(source: &str) -> Vec<String> {
        source
            .split("Long(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|name| !["help"].contains(name))
            .map(|name| format!("--{name}"))
            .collect()
    }

    #[test]
    fn every_accepted_option_is_in_the_help() {
        let start_and_restart = format!("{}\n{}", crate::start_options::USAGE, crate::restart::USAGE);
        for (source, usage) in [
            (include_str!("start_options.rs"), start_and_restart.as_str()),
            (include_str!("stop.rs"), crate::stop::USAGE),
            (include_str!("status.rs"), crate::status::USAGE),
            (include_str!("signal.rs"), crate::signal::USAGE),
        ] {
            let listed: Vec<String> = options(usage).iter().filter_map(Entry::long).map(str::to_owned).collect();
            for option in accepted(source) {
                assert!(listed.contains(&option), "{option} is accepted but not in the help's options");
            }
        }
        let listed: Vec<String> =
            options(crate::start_options::USAGE).iter().filter_map(Entry::long).map(str::to_owned).collect();
        assert!(listed.contains(&"--pidfile".to_owned()) && listed.contains(&"--limit".to_owned()), "{listed:?}");
    }

    #[test]
    fn entries_and_values() {
        let options = options(crate::stop::USAGE);
        let pidfile = options.iter().find(|o| o.long() == Some("--pidfile")).unwrap();
        assert!(pidfile.takes_value() && pidfile.description.starts_with("the PID file"));
        let kill = options.iter().find(|o| o.long() == Some("--kill")).unwrap();
        assert!(!kill.takes_value());
    }

    #[test]
    fn man_pages_have_the_sections() {
        for page in pages() {
            let text = man_page(&page);
            for section in [".TH ", ".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH SEE ALSO"] {
                assert!(text.contains(section), "{}: {section}", page.command);
            }
            // `run` takes `start`'s options and says so.
            if !["", "run"].contains(&page.command) {
                assert!(text.contains(".SH OPTIONS\n.TP\n.B \\-\\-"), "{}", page.command);
            }
        }
    }
}
