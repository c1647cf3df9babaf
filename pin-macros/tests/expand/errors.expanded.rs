::core::compile_error! {
    "unknown option `foo`: #[pointer_escapes] takes `crate = path` (the path of the pointer-escapes crate, e.g. `crate = ::my_ffi::pointer_escapes`), `returns(retained, ..)`, `unchecked` (no pins or checks for this item) and, on an extern block, `skip_variadic` and `raw = name`; parameters take #[flow_through] and #[escapes(..)]"
}
::core::compile_error! {
    "#[flow_through] needs a raw pointer, reference or slice parameter, but `n` is an integer passed by value (`u32`), which C cannot reach through this call; take it by reference (`&u32`) or remove #[flow_through]"
}
::core::compile_error! {
    "`len` must be an integer expression, not a float literal: write e.g. `len = n` or `len = 16`"
}
fn both(n: u32, p: *const u8) {}
