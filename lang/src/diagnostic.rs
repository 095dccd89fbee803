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
        let file = SimpleFile::new(file_name, source);
        let config = term::Config::default();
        let clamp = |s: Span| {
            let end = s.end.min(source.len());
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
        let diag = cs::Diagnostic::new(sev)
            .with_message(&self.message)
            .with_labels(labels)
            .with_notes(notes);
        term::emit_into_string(&config, &file, &diag).unwrap_or_else(|e| {
            format!(
                "error: {} (could not render source excerpt: {e})\n",
                self.message
            )
        })
    }
}

/// Renders every diagnostic, in order, separated by blank lines.
pub fn render_all(diags: &[Diagnostic], file_name: &str, source: &str) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.render(file_name, source));
        out.push('\n');
    }
    out
}
