//! CVSS 3.1 base scores and severities computed from the vector (never typed in), so test
//! 6.1.9 cannot fail on an authored document.

/// A CVSS 3.1 base score computed from a vector.
#[derive(Debug, Clone, PartialEq)]
pub struct CvssV3Score {
    /// The vector in canonical form (`CVSS:3.1/AV:..`, metrics in specification order).
    pub vector: String,
    pub base_score: f64,
    /// `NONE`, `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    pub base_severity: &'static str,
}

/// Parses a CVSS 3.1 base vector (the `CVSS:3.1/` prefix may be left out) and computes its base
/// score and severity. Temporal and environmental metrics are refused: the form asks for a base
/// vector, and a CSAF score carrying them would need their scores too.
pub fn cvss_v31(vector: &str) -> Result<CvssV3Score, String> {
    let vector = vector.trim();
    if vector.is_empty() {
        return Err("the vector is empty".into());
    }
    let full = if vector.starts_with("CVSS:") {
        vector.to_string()
    } else {
        format!("CVSS:3.1/{vector}")
    };
    if !full.starts_with("CVSS:3.1/") {
        return Err(format!(
            "{vector:?} is not a CVSS 3.1 vector (it must start with CVSS:3.1/)"
        ));
    }
    let parsed: cvss_rs::v3::CvssV3 = full
        .parse()
        .map_err(|e| format!("{vector:?} is not a valid CVSS 3.1 vector: {e}"))?;
    let has_extra = parsed.exploit_code_maturity.is_some()
        || parsed.remediation_level.is_some()
        || parsed.report_confidence.is_some()
        || parsed.confidentiality_requirement.is_some()
        || parsed.integrity_requirement.is_some()
        || parsed.availability_requirement.is_some()
        || parsed.modified_attack_vector.is_some()
        || parsed.modified_attack_complexity.is_some()
        || parsed.modified_privileges_required.is_some()
        || parsed.modified_user_interaction.is_some()
        || parsed.modified_scope.is_some()
        || parsed.modified_confidentiality_impact.is_some()
        || parsed.modified_integrity_impact.is_some()
        || parsed.modified_availability_impact.is_some();
    if has_extra {
        return Err(format!(
            "{vector:?} has temporal or environmental metrics; give the base vector only (AV, AC, PR, UI, S, C, I, A)"
        ));
    }
    let base_score = parsed.calculated_base_score().ok_or_else(|| {
        format!("{vector:?} lacks a base metric (AV, AC, PR, UI, S, C, I and A are all required)")
    })?;
    Ok(CvssV3Score {
        vector: parsed.to_string(),
        base_score,
        base_severity: severity_of(base_score),
    })
}

/// The CVSS 3.x qualitative severity of a base score (specification section 5).
pub(super) fn severity_of(score: f64) -> &'static str {
    if score <= 0.0 {
        "NONE"
    } else if score < 4.0 {
        "LOW"
    } else if score < 7.0 {
        "MEDIUM"
    } else if score < 9.0 {
        "HIGH"
    } else {
        "CRITICAL"
    }
}
