//! `xdr_enum!` and `xdr_union!`: XDR enumerations with declared values and
//! discriminated unions, which serde's derive cannot express (it numbers variants
//! 0, 1, 2 … and has no default arm).

/// Declares an XDR enumeration (RFC 4506 §4.3) whose variants have the given values.
///
/// The enum derives `Clone, Copy, Debug, PartialEq, Eq, Hash`; it encodes as an `int`,
/// and decoding any value that is not declared is an [`Error::InvalidValue`](crate::Error).
///
/// ```
/// courier_xdr::xdr_enum! {
///     /// Colours, as in the RFC's example.
///     pub enum Color { Red = 1, Green = 2, Blue = 4 }
/// }
/// assert_eq!(&courier_xdr::to_bytes(&Color::Blue).unwrap()[..], &[0, 0, 0, 4]);
/// assert!(courier_xdr::from_slice::<Color>(&[0, 0, 0, 3]).is_err());
/// ```
#[macro_export]
macro_rules! xdr_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(i32)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant = $value ),+
        }

        impl $name {
            /// Every declared variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value that represents this variant on the wire.
            pub const fn value(self) -> i32 {
                self as i32
            }

            /// The variant with this wire value, if one is declared.
            pub fn from_value(value: i32) -> ::core::option::Option<Self> {
                $( if value == $name::$variant as i32 { return ::core::option::Option::Some($name::$variant); } )+
                ::core::option::Option::None
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(&self, s: S) -> ::core::result::Result<S::Ok, S::Error> {
                s.serialize_i32(*self as i32)
            }
        }

        impl $crate::XdrType for $name {
            fn xdr_declaration(name: &str, defs: &mut $crate::XdrDefinitions) -> ::std::string::String {
                defs.define(stringify!($name), |_| {
                    let variants: &[::std::string::String] = &[$(
                        ::std::format!("    {} = {}", $crate::schema::variant_label(stringify!($name), stringify!($variant)), $name::$variant as i32)
                    ),+];
                    ::std::format!("enum {} {{\n{}\n}};", stringify!($name), variants.join(",\n"))
                });
                ::std::format!("{} {}", stringify!($name), name)
            }
        }

        impl $crate::XdrCase for $name {
            fn xdr_case(&self) -> ::std::string::String {
                match self {
                    $($name::$variant => $crate::schema::variant_label(stringify!($name), stringify!($variant)),)+
                }
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                let value = <i32 as $crate::__private::serde::Deserialize>::deserialize(d)?;
                Self::from_value(value).ok_or_else(|| {
                    <D::Error as $crate::__private::serde::de::Error>::invalid_value(
                        $crate::__private::serde::de::Unexpected::Signed(value.into()),
                        &concat!("a declared value of enum ", stringify!($name)),
                    )
                })
            }
        }
    };
}

/// Declares an XDR discriminated union (RFC 4506 §4.15).
///
/// The discriminant type may be `i32`, `u32`, `bool` or an [`xdr_enum!`] type. Each
/// `case VALUE => Variant(Type)` arm carries a value; `case VALUE => Variant` is a
/// `void` arm. An optional last arm `default => Variant(Type)` (or `default => Variant`
/// for a void default) takes every other discriminant and keeps it as the variant's
/// first field. Without a default arm, an undeclared discriminant is an
/// [`Error::InvalidValue`](crate::Error). Shared case arms (`case 2: case 3:`) are
/// written as one variant per value. Derives are up to you.
///
/// ```
/// courier_xdr::xdr_union! {
///     #[derive(Debug, PartialEq)]
///     pub enum Shape switch (i32) {
///         case 1 => Circle(f64),
///         case 0 => Empty,
///         default => Other(String),
///     }
/// }
/// let bytes = courier_xdr::to_bytes(&Shape::Other(9, "x".into())).unwrap();
/// assert_eq!(&bytes[..], b"\0\0\0\x09\0\0\0\x01x\0\0\0");
/// assert_eq!(courier_xdr::from_bytes::<Shape>(bytes).unwrap(), Shape::Other(9, "x".into()));
/// ```
#[macro_export]
macro_rules! xdr_union {
    // Internal rules: patterns and bodies for one arm (void or carrying a value).
    (@pat $v:ident; $n:ident :: $var:ident) => { $n::$var };
    (@pat $v:ident; $n:ident :: $var:ident, $t:ty) => { $n::$var($v) };
    (@dpat $d:ident $v:ident; $n:ident :: $var:ident) => { $n::$var($d) };
    (@dpat $d:ident $v:ident; $n:ident :: $var:ident, $t:ty) => { $n::$var($d, $v) };
    (@ser $s:ident $v:ident; $disc:expr) => {{
        let mut t = $crate::__private::serde::Serializer::serialize_tuple($s, 1)?;
        $crate::__private::serde::ser::SerializeTuple::serialize_element(&mut t, &$disc)?;
        $crate::__private::serde::ser::SerializeTuple::end(t)
    }};
    (@ser $s:ident $v:ident; $disc:expr, $t:ty) => {{
        let mut t = $crate::__private::serde::Serializer::serialize_tuple($s, 2)?;
        $crate::__private::serde::ser::SerializeTuple::serialize_element(&mut t, &$disc)?;
        $crate::__private::serde::ser::SerializeTuple::serialize_element(&mut t, $v)?;
        $crate::__private::serde::ser::SerializeTuple::end(t)
    }};
    (@arm $seq:ident $visitor:ident; $n:ident :: $var:ident) => { $n::$var };
    (@arm $seq:ident $visitor:ident; $n:ident :: $var:ident, $t:ty) => {
        $n::$var($crate::xdr_union!(@next $seq $visitor))
    };
    (@next $seq:ident $visitor:ident) => {
        $crate::__private::serde::de::SeqAccess::next_element($seq)?.ok_or_else(|| {
            <A::Error as $crate::__private::serde::de::Error>::invalid_length(1, &$visitor)
        })?
    };
    (@decl $defs:ident $var:ident) => { ::std::string::String::from("void") };
    (@decl $defs:ident $var:ident, $t:ty) => {
        <$t as $crate::XdrType>::xdr_declaration(&stringify!($var).to_lowercase(), $defs)
    };
    (@default $seq:ident $visitor:ident $d:ident; $n:ident) => {
        ::core::result::Result::Err(<A::Error as $crate::__private::serde::de::Error>::invalid_value(
            $crate::__private::serde::de::Unexpected::Other(&format!("discriminant {:?}", $d)),
            &$visitor,
        ))
    };
    (@default $seq:ident $visitor:ident $d:ident; $n:ident :: $var:ident) => {
        ::core::result::Result::Ok($n::$var($d))
    };
    (@default $seq:ident $visitor:ident $d:ident; $n:ident :: $var:ident, $t:ty) => {
        ::core::result::Result::Ok($n::$var($d, $crate::xdr_union!(@next $seq $visitor)))
    };

    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident switch ($dty:ty) {
            $( $(#[$vmeta:meta])* case $disc:expr => $variant:ident $( ( $aty:ty ) )? ),+
            $(, default => $dvariant:ident $( ( $dvty:ty ) )? )?
            $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$vmeta])* $variant $( ($aty) )? ),+ ,
            $( #[doc = "Any other discriminant (the default arm)."] $dvariant($dty $(, $dvty)?) )?
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(&self, s: S) -> ::core::result::Result<S::Ok, S::Error> {
                match self {
                    $( $crate::xdr_union!(@pat v; $name :: $variant $(, $aty)?) => {
                        let disc: $dty = $disc;
                        $crate::xdr_union!(@ser s v; disc $(, $aty)?)
                    } )+
                    $( $crate::xdr_union!(@dpat d v; $name :: $dvariant $(, $dvty)?) => {
                        $crate::xdr_union!(@ser s v; *d $(, $dvty)?)
                    } )?
                }
            }
        }

        impl $crate::XdrType for $name {
            fn xdr_declaration(name: &str, defs: &mut $crate::XdrDefinitions) -> ::std::string::String {
                defs.define(stringify!($name), |defs| {
                    let mut arms = ::std::string::String::new();
                    $({
                        let disc: $dty = $disc;
                        let decl = $crate::xdr_union!(@decl defs $variant $(, $aty)?);
                        arms.push_str(&::std::format!("case {}:\n    {};\n", $crate::XdrCase::xdr_case(&disc), decl));
                    })+
                    $({
                        let decl = $crate::xdr_union!(@decl defs $dvariant $(, $dvty)?);
                        arms.push_str(&::std::format!("default:\n    {};\n", decl));
                    })?
                    let discriminant = <$dty as $crate::XdrType>::xdr_declaration("discriminant", defs);
                    ::std::format!("union {} switch ({}) {{\n{}}};", stringify!($name), discriminant, arms)
                });
                ::std::format!("{} {}", stringify!($name), name)
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                struct Visitor;
                impl<'de> $crate::__private::serde::de::Visitor<'de> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str(concat!("union ", stringify!($name)))
                    }
                    fn visit_seq<A: $crate::__private::serde::de::SeqAccess<'de>>(self, mut seq: A) -> ::core::result::Result<$name, A::Error> {
                        let seq = &mut seq;
                        let disc: $dty = $crate::xdr_union!(@next seq self);
                        $( if disc == $disc {
                            return ::core::result::Result::Ok($crate::xdr_union!(@arm seq self; $name :: $variant $(, $aty)?));
                        } )+
                        $crate::xdr_union!(@default seq self disc; $name $(:: $dvariant $(, $dvty)?)?)
                    }
                }
                d.deserialize_tuple(2, Visitor)
            }
        }
    };
}
