// Input of the expansion snapshot test (see src/escapes/snapshot.rs): on
// error the item comes back stripped of the macro's attributes, after the
// compile errors.

#[pointer_escapes(foo)]
fn both(#[flow_through] n: u32, #[escapes(len = 1.5)] p: *const u8) {}
