//! A parameter entry's options, split into the attributes the macro reads.

use syn::punctuated::Punctuated;
use syn::{parse_quote, Attribute, Meta, Token};

/// `"flow_through, len = __count"` as `#[flow_through] #[escapes(len =
/// __count)]`: `flow_through` is an attribute of its own, every other key
/// goes into one `#[escapes(..)]` in the order written. The macro checks
/// the keys themselves.
pub(crate) fn param_attributes(options: &str) -> Result<Vec<Attribute>, String> {
    let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
    let metas = syn::parse::Parser::parse_str(parser, options)
        .map_err(|e| format!("options `{options}` do not parse as `key, key = expr, ..`: {e}"))?;
    if metas.is_empty() {
        return Err("no options given".to_owned());
    }
    let mut flow_through = false;
    let mut escapes: Punctuated<Meta, Token![,]> = Punctuated::new();
    for meta in metas {
        if meta.path().is_ident("flow_through") {
            if !matches!(meta, Meta::Path(_)) {
                return Err("`flow_through` takes no value".to_owned());
            }
            if flow_through {
                return Err("`flow_through` given twice".to_owned());
            }
            flow_through = true;
        } else {
            escapes.push(meta);
        }
    }
    let mut attrs = Vec::new();
    if flow_through {
        attrs.push(parse_quote!(#[flow_through]));
    }
    if !escapes.is_empty() {
        attrs.push(parse_quote!(#[escapes(#escapes)]));
    }
    Ok(attrs)
}

/// A field entry's options, as `#[referents(..)]` will read them.
pub(crate) fn field_options_parse(options: &str) -> Result<(), String> {
    let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
    match syn::parse::Parser::parse_str(parser, options) {
        Ok(metas) if !metas.is_empty() => Ok(()),
        Ok(_) => Err("no options given".to_owned()),
        Err(e) => Err(format!(
            "options `{options}` do not parse as `key, key = expr, ..`: {e}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::param_attributes;
    use quote::ToTokens;

    fn spelled(options: &str) -> Vec<String> {
        param_attributes(options)
            .unwrap()
            .iter()
            .map(|a| a.to_token_stream().to_string())
            .collect()
    }

    #[test]
    fn flow_through_is_its_own_attribute_and_the_rest_go_to_escapes() {
        assert_eq!(
            spelled("flow_through, len = __count"),
            ["# [flow_through]", "# [escapes (len = __count)]"]
        );
        assert_eq!(
            spelled("out, bytes = n * size"),
            ["# [escapes (out , bytes = n * size)]"]
        );
        assert_eq!(spelled("flow_through"), ["# [flow_through]"]);
    }

    #[test]
    fn malformed_options_are_errors_not_dropped() {
        assert!(param_attributes("").is_err());
        assert!(param_attributes("len =").is_err());
        assert!(param_attributes("flow_through = 1").is_err());
        assert!(param_attributes("flow_through, flow_through").is_err());
    }
}
