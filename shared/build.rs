//! Registers the Compass Director schema subset with cynic, so every GraphQL document the Compass
//! connector sends is checked against it when the crate compiles.

fn main() {
    println!("cargo::rerun-if-changed=schemas/compass-director.graphql");
    cynic_codegen::register_schema("director")
        .from_sdl_file("schemas/compass-director.graphql")
        .and_then(|schema| schema.as_default())
        .expect("schemas/compass-director.graphql is valid SDL");
}
