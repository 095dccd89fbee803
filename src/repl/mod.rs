//! `pj repl`: define, JIT, run and inspect kernels interactively.
//!
//! - [`syntax`]: the session's statements, and when an input is complete;
//! - [`session`]: the state and what each statement does (no terminal);
//! - [`show`]: values NumPy-style, `:stats`;
//! - this file: the terminal (rustyline: line editing, history, completion,
//!   multi-line input with a `...` continuation prompt, Ctrl-C) and scripts
//!   (`--script FILE` or stdin).

mod session;
mod show;
mod syntax;
mod tiering;

pub use session::Session;

use anyhow::{Context, Result};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Editor, Helper};
use std::cell::RefCell;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Runs a session: interactive on a terminal, else a script (from `script`
/// or stdin). Returns whether every statement succeeded.
pub fn run(script: Option<&Path>) -> Result<bool> {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let session = Session::new(
        Box::new(std::io::stdout()),
        Box::new(std::io::stderr()),
        color,
    );
    match script {
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            let name = path.display().to_string();
            Ok(run_script(session, &name, std::io::BufReader::new(file)))
        }
        None if std::io::stdin().is_terminal() => interactive(session),
        None => Ok(run_script(session, "<stdin>", std::io::stdin().lock())),
    }
}

/// Runs the statements of `input` (kernel definitions until their braces
/// balance), with no prompts; returns whether all succeeded. Messages
/// name the script `name` and the line.
pub fn run_script(mut session: Session, name: &str, input: impl BufRead) -> bool {
    let mut ok = true;
    let mut pending = String::new();
    let mut start = 1;
    for (i, line) in input.lines().enumerate() {
        let Ok(line) = line else {
            eprintln!("error: {name}:{}: the script is not UTF-8 text", i + 1);
            return false;
        };
        if pending.is_empty() {
            start = i + 1;
        }
        pending.push_str(&line);
        pending.push('\n');
        if !syntax::balanced(&pending) {
            continue;
        }
        session.origin = Some((name.to_string(), start));
        ok &= session.execute(&pending);
        pending.clear();
        if session.quit {
            return ok;
        }
    }
    if !pending.trim().is_empty() {
        eprintln!("error: the script ends inside an unclosed `{{`");
        ok = false;
    }
    ok
}

/// Where the history lives: the user's data directory.
fn history_path() -> Option<PathBuf> {
    let dir = dirs::data_dir()?.join("picojoule");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("repl-history.txt"))
}

fn interactive(mut session: Session) -> Result<bool> {
    // at the prompt nobody should wait for LLVM, and long calls deserve it
    session.set_background_tiering(true);
    let session = Rc::new(RefCell::new(session));
    let helper = ReplHelper {
        session: session.clone(),
        files: FilenameCompleter::new(),
    };
    let mut editor: Editor<ReplHelper, rustyline::history::FileHistory> = Editor::new()?;
    editor.set_helper(Some(helper));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    // Ctrl-C while a kernel runs: ask it to stop between parallel chunks
    // (at the prompt, rustyline reads Ctrl-C as a key instead)
    let _ = ctrlc::set_handler(pj_runtime::interrupt::request);
    println!(
        "picojoule {} — :help lists the commands, Ctrl-D leaves",
        env!("CARGO_PKG_VERSION")
    );
    let mut ok = true;
    // an input with an open `{` continues on the next line
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() { "pj> " } else { "... " };
        match editor.readline(prompt) {
            Ok(line) => {
                if pending.is_empty() && line.trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line.as_str());
                pending.push_str(&line);
                pending.push('\n');
                if !syntax::balanced(&pending) {
                    continue;
                }
                let input = std::mem::take(&mut pending);
                let mut s = session.borrow_mut();
                ok &= s.execute(&input);
                if s.quit {
                    break;
                }
            }
            // Ctrl-C at the prompt: drop the input, keep the session
            Err(ReadlineError::Interrupted) => pending.clear(),
            Err(ReadlineError::Eof) if !pending.is_empty() => pending.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(ok)
}

/// Completion, multi-line validation: rustyline's hooks into the session.
struct ReplHelper {
    session: Rc<RefCell<Session>>,
    files: FilenameCompleter,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        // a path: inside a string, or the argument of :load / :save's second
        let in_string = before.matches('"').count() % 2 == 1;
        let words: Vec<&str> = before.split_whitespace().collect();
        let arg = if before.ends_with(char::is_whitespace) {
            words.len()
        } else {
            words.len().saturating_sub(1)
        };
        let path_arg = matches!(
            (words.first().copied(), arg),
            (Some(":load" | ":l"), 1) | (Some(":save"), 2)
        );
        if in_string || path_arg {
            return self.files.complete(line, pos, ctx);
        }
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let mut candidates: Vec<String> = if word.starts_with(':') {
            session::COMMANDS
                .iter()
                .map(|(c, _)| c.split_whitespace().next().unwrap_or(c).to_string())
                .collect()
        } else {
            let mut names = self.session.borrow().names();
            names.extend(session::BUILTINS.iter().map(|(b, _)| b.to_string()));
            names
        };
        candidates.retain(|c| c.starts_with(word));
        candidates.sort();
        candidates.dedup();
        Ok((
            start,
            candidates
                .into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

impl Validator for ReplHelper {}

impl Highlighter for ReplHelper {}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Helper for ReplHelper {}
