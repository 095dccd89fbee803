//! User-facing diagnostics: one error or warning with spans into the source,
//! rendered by codespan-reporting as `file:line:col`, the source line and a
//! caret under the span.

use crate::span::Span;
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;

/// How bad it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Compilation goes on.
    Warning,
    /// Compilation stops after the current phase.
    Error,
}

/// One message about the user's source.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Headline.
    pub message: String,
    /// The main span.
    pub span: Span,
    /// Text under the main span.
    pub label: String,
    /// Further spans with their text.
    pub secondary: Vec<(Span, String)>,
    /// `note:` lines.
    pub notes: Vec<String>,
    /// `help:` lines: what to do about it.
    pub help: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            label: String::new(),
            secondary: Vec::new(),
            notes: Vec::new(),
            help: Vec::new(),
        }
    }

    /// A warning at `span`.
    pub fn warning(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message, span)
        }
    }

    /// Sets the text under the main span.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// Adds a secondary span.
    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help.push(help.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders as plain text (no colour) with the source excerpt.
    pub fn render(&self, file_name: &str, source: &str) -> String {
        self.render_with(file_name, source, false)
    }

    /// Renders with the source excerpt; `color` adds ANSI colours for terminals.
    pub fn render_with(&self, file_name: &str, source: &str, color: bool) -> String {
        let file = SimpleFile::new(file_name, source);
        let config = term::Config::default();
        let diag = self.to_codespan(source.len());
        let fallback = |e: codespan_reporting::files::Error| {
            format!(
                "error: {} (could not render source excerpt: {e})\n",
                self.message
            )
        };
        if !color {
            return term::emit_into_string(&config, &file, &diag).unwrap_or_else(fallback);
        }
        let mut buf = term::termcolor::Buffer::ansi();
        match term::emit_to_write_style(&mut buf, &config, &file, &diag) {
            Ok(()) => String::from_utf8_lossy(buf.as_slice()).into_owned(),
            Err(e) => fallback(e),
        }
    }

    fn to_codespan(&self, source_len: usize) -> cs::Diagnostic<()> {
        let clamp = |s: Span| {
            let end = s.end.min(source_len);
            let start = s.start.min(end);
            start..end
        };
        let sev = match self.severity {
            Severity::Warning => cs::Severity::Warning,
            Severity::Error => cs::Severity::Error,
        };
        let mut labels = vec![cs::Label::primary((), clamp(self.span)).with_message(&self.label)];
        for (span, text) in &self.secondary {
            labels.push(cs::Label::secondary((), clamp(*span)).with_message(text));
        }
        let mut notes: Vec<String> = self.notes.iter().map(|n| format!("note: {n}")).collect();
        notes.extend(self.help.iter().map(|h| format!("help: {h}")));
        cs::Diagnostic::new(sev)
            .with_message(&self.message)
            .with_labels(labels)
            .with_notes(notes)
    }
}

/// Renders every diagnostic, in order, separated by blank lines.
pub fn render_all(diags: &[Diagnostic], file_name: &str, source: &str) -> String {
    render_all_with(diags, file_name, source, false)
}

/// [`render_all`], with ANSI colours if `color`.
pub fn render_all_with(diags: &[Diagnostic], file_name: &str, source: &str, color: bool) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.render_with(file_name, source, color));
        out.push('\n');
    }
    out
}
