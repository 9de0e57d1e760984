//! CSAF 2.0 section 5.1 file names: the vectors from the reference (shared/reference/csaf.md §3)
//! and the distribution path.

use herald_csaf::{Tlp, document_path, file_name, tlp_dir};

#[test]
fn section_5_1_vectors() {
    let vectors = [
        ("RHSA-2021:5217", "rhsa-2021_5217.json"),
        (
            "Example Company - 2019-YH3234",
            "example_company_-_2019-yh3234.json",
        ),
        ("2022_#01-A", "2022_01-a.json"),
        ("ICSMA-17-009-01A", "icsma-17-009-01a.json"),
        (
            "cisco-sa-20190513-secureboot",
            "cisco-sa-20190513-secureboot.json",
        ),
        ("A+B", "a+b.json"),
    ];
    for (id, expected) in vectors {
        assert_eq!(file_name(id), expected, "tracking id {id:?}");
    }
}

#[test]
fn runs_collapse_and_non_ascii_becomes_underscore() {
    assert_eq!(file_name("a  //  b"), "a_b.json");
    assert_eq!(file_name("Größe-1"), "gr_e-1.json");
    assert_eq!(file_name("_x_"), "_x_.json");
    assert_eq!(file_name("<script>"), "_script_.json");
}

#[test]
fn tlp_dirs_and_document_path() {
    assert_eq!(
        [Tlp::White, Tlp::Green, Tlp::Amber, Tlp::Red].map(tlp_dir),
        ["white", "green", "amber", "red"]
    );
    assert_eq!(
        document_path(Tlp::White, 2024, "ICSMA-24-151-01"),
        "white/2024/icsma-24-151-01.json"
    );
    assert_eq!(
        document_path(Tlp::Amber, 2026, "MMS-SA-2026:7"),
        "amber/2026/mms-sa-2026_7.json"
    );
}
