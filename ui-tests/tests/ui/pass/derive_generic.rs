// Generic structs: each type parameter a field uses gets a `Referents`
// bound; `PhantomData`, lifetimes and const parameters need none.
use core::marker::PhantomData;
use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

#[derive(Referents)]
struct Slots<'a, T, Tag, const N: usize>
where
    T: Copy,
{
    items: &'a [T],
    spare: [Option<Box<T>>; N],
    tag: PhantomData<Tag>,
}

/// `Tag` has no `Referents` impl, and needs none: it only appears in
/// `PhantomData`.
struct Tag;

#[derive(Referents)]
struct Wrapper<T: 'static>(&'static T);

fn main() {
    let data = [1u32, 2, 3];
    let s: Slots<'_, u32, Tag, 2> = Slots {
        items: &data,
        spare: [Some(Box::new(4)), None],
        tag: PhantomData,
    };
    let found = direct_referents(&s);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].len(), 12);

    static TEXT: u64 = 9;
    assert_eq!(direct_referents(&Wrapper(&TEXT)).len(), 1);
}
