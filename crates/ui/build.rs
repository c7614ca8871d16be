//! Tauri's build step: embeds `ui/dist` (built by `npm run build` in `ui/`,
//! which `cargo xtask test` and `cargo xtask run` do first).

fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist/index.html");
    if !dist.exists() {
        panic!(
            "ui/dist is missing: build the web UI first with `cargo xtask ui` \
             (or `npm ci && npm run build` in ui/)"
        );
    }
    println!("cargo:rerun-if-changed=../../ui/dist");
    tauri_build::build()
}
