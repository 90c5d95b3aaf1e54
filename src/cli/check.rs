//! `neuroc check FILE...`: compile each file and print its diagnostics.

use std::path::PathBuf;

pub(super) fn check(files: &[PathBuf]) -> i32 {
    let mut worst = 0;
    for f in files {
        let text = match neuroc::read_source(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                worst = worst.max(2);
                continue;
            }
        };
        let canon = f.canonicalize().unwrap_or_else(|_| f.clone());
        let c = neuroc::compile_source(&f.display().to_string(), &text, Some(canon));
        neuroc::diag::render_stderr(&c.sources, &c.diagnostics.list);
        if c.diagnostics.has_errors() {
            eprintln!("{}: {} error(s)", f.display(), c.diagnostics.error_count());
            worst = worst.max(1);
        } else {
            let n = c.shown.len();
            println!("{}: ok ({n} model{})", f.display(), if n == 1 { "" } else { "s" });
        }
    }
    worst
}
