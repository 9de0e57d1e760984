//! The diesel table definitions, written by hand to match both migration sets (`migrations/sqlite`
//! and `migrations/postgres`); the `schema_parity` test checks the two sets agree.
//! Timestamps are `BigInt` microseconds since the Unix epoch (see the crate docs).

diesel::table! {
    organizations (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        slug -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        org_id -> Text,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        created_at -> BigInt,
        last_login_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        token_hash -> Text,
        user_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        last_seen_at -> BigInt,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    sign_in_throttle (key) {
        key -> Text,
        failures -> Integer,
        last_failure_at -> BigInt,
        locked_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        org_id -> Text,
        user_id -> Nullable<Text>,
        name -> Text,
        token_hash -> Text,
        token_prefix -> Text,
        scopes -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    products (id) {
        id -> Text,
        manufacturer_org_id -> Text,
        product_key -> Text,
        vendor -> Nullable<Text>,
        family -> Nullable<Text>,
        name -> Text,
        version -> Nullable<Text>,
        udi_di -> Nullable<Text>,
        cpe -> Nullable<Text>,
        purl -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    advisories (id) {
        id -> Text,
        tracking_id -> Text,
        publisher_org_id -> Text,
        title -> Text,
        category -> Text,
        status -> Text,
        tlp -> Text,
        current_version -> Text,
        current_revision_id -> Text,
        initial_release_date -> BigInt,
        current_release_date -> BigInt,
        year -> Integer,
        file_name -> Text,
        path -> Text,
        severity -> Nullable<Text>,
        max_cvss -> Nullable<Double>,
        summary_json -> Text,
        search_text -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    advisory_revisions (id) {
        id -> Text,
        advisory_id -> Text,
        version -> Text,
        release_date -> BigInt,
        tlp -> Text,
        path -> Text,
        document -> Binary,
        sha256 -> Text,
        sha512 -> Text,
        signature -> Nullable<Text>,
        summary_json -> Text,
        published_at -> BigInt,
        published_by -> Text,
    }
}

diesel::table! {
    advisory_cves (advisory_id, cve) {
        advisory_id -> Text,
        cve -> Text,
    }
}

diesel::table! {
    advisory_products (advisory_id, csaf_product_id) {
        advisory_id -> Text,
        csaf_product_id -> Text,
        product_id -> Text,
        statuses -> Text,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Text,
        kind -> Text,
        advisory_id -> Nullable<Text>,
        revision_id -> Nullable<Text>,
        payload -> Text,
        created_at -> BigInt,
        fanned_out_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    destinations (id) {
        id -> Text,
        org_id -> Text,
        plugin_id -> Text,
        name -> Text,
        config -> Text,
        grants -> Text,
        enabled -> Bool,
        min_severity -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Text,
        event_id -> Text,
        destination_id -> Text,
        advisory_id -> Nullable<Text>,
        event_at -> BigInt,
        status -> Text,
        attempts -> Integer,
        replay_base -> Integer,
        next_attempt_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        receipt -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    delivery_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        number -> Integer,
        worker -> Text,
        started_at -> BigInt,
        duration_ms -> BigInt,
        outcome -> Text,
        receipt -> Nullable<Text>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> BigInt,
        actor -> Text,
        action -> Text,
        subject -> Text,
        detail -> Text,
    }
}

diesel::joinable!(users -> organizations (org_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_tokens -> organizations (org_id));
diesel::joinable!(products -> organizations (manufacturer_org_id));
diesel::joinable!(advisories -> organizations (publisher_org_id));
diesel::joinable!(advisory_revisions -> advisories (advisory_id));
diesel::joinable!(advisory_cves -> advisories (advisory_id));
diesel::joinable!(advisory_products -> advisories (advisory_id));
diesel::joinable!(advisory_products -> products (product_id));
diesel::joinable!(destinations -> organizations (org_id));
diesel::joinable!(deliveries -> outbox_events (event_id));
diesel::joinable!(deliveries -> destinations (destination_id));
diesel::joinable!(delivery_attempts -> deliveries (delivery_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    users,
    sessions,
    api_tokens,
    products,
    advisories,
    advisory_revisions,
    advisory_cves,
    advisory_products,
    outbox_events,
    destinations,
    deliveries,
    delivery_attempts,
    audit_log,
);

diesel::table! {
    signing_keys (id) {
        id -> Text,
        fingerprint -> Text,
        user_id -> Text,
        public_key -> Text,
        secret_key -> Text,
        active -> Bool,
        origin -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    destination_secrets (destination_id, name) {
        destination_id -> Text,
        name -> Text,
        nonce -> Binary,
        ciphertext -> Binary,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::joinable!(destination_secrets -> destinations (destination_id));
diesel::allow_tables_to_appear_in_same_query!(destination_secrets, destinations);

diesel::table! {
    notification_templates (kind, channel, part) {
        kind -> Text,
        channel -> Text,
        part -> Text,
        body -> Text,
        updated_at -> BigInt,
        updated_by -> Text,
    }
}

// customers, installed base, entitlement grants, subscriptions (customers.rs)

diesel::table! {
    customers (manufacturer_org_id, hospital_org_id) {
        manufacturer_org_id -> Text,
        hospital_org_id -> Text,
        reference -> Nullable<Text>,
        created_at -> BigInt,
        created_by -> Text,
    }
}

diesel::table! {
    installed_base (id) {
        id -> Text,
        org_id -> Text,
        site_id -> Text,
        product_id -> Text,
        quantity -> Nullable<Integer>,
        notes -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        confirmed_at -> Nullable<BigInt>,
        confirmed_by -> Nullable<Text>,
    }
}

diesel::table! {
    entitlement_grants (id) {
        id -> Text,
        manufacturer_org_id -> Text,
        hospital_org_id -> Text,
        product_id -> Nullable<Text>,
        advisory_id -> Nullable<Text>,
        note -> Nullable<Text>,
        created_at -> BigInt,
        created_by -> Text,
    }
}

diesel::table! {
    subscriptions (destination_id) {
        destination_id -> Text,
        product_ids -> Text,
        families -> Text,
        event_kinds -> Text,
        security_contact -> Bool,
        routine_opt_out -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::joinable!(installed_base -> products (product_id));
diesel::joinable!(installed_base -> organizations (org_id));
diesel::joinable!(entitlement_grants -> products (product_id));
diesel::joinable!(entitlement_grants -> advisories (advisory_id));
diesel::joinable!(subscriptions -> destinations (destination_id));
// Pairwise: the new tables with the ones they are read with (a pair of older tables must not be
// declared twice).
diesel::allow_tables_to_appear_in_same_query!(installed_base, products);
diesel::allow_tables_to_appear_in_same_query!(installed_base, organizations);
diesel::allow_tables_to_appear_in_same_query!(installed_base, advisory_products);
diesel::allow_tables_to_appear_in_same_query!(entitlement_grants, products);
diesel::allow_tables_to_appear_in_same_query!(entitlement_grants, advisories);
diesel::allow_tables_to_appear_in_same_query!(customers, organizations);
diesel::allow_tables_to_appear_in_same_query!(subscriptions, destinations);

// the delivery engine's persisted circuit breaker (breaker.rs)

diesel::table! {
    destination_health (destination_id) {
        destination_id -> Text,
        state -> Text,
        consecutive_failures -> Integer,
        opened_at -> Nullable<BigInt>,
        next_probe_at -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::joinable!(destination_health -> destinations (destination_id));
diesel::allow_tables_to_appear_in_same_query!(destination_health, destinations);

// a destination's failure episode and its escalation (outages.rs)

diesel::table! {
    destination_outages (destination_id) {
        destination_id -> Text,
        failing_since -> BigInt,
        last_failure_at -> BigInt,
        failures -> Integer,
        last_error -> Nullable<Text>,
        escalated_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(destination_outages -> destinations (destination_id));
diesel::allow_tables_to_appear_in_same_query!(destination_outages, destinations);

// Herald's own mail queue (system_mail.rs)

diesel::table! {
    system_mail (id) {
        id -> Text,
        kind -> Text,
        dedupe_key -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        sent_at -> Nullable<BigInt>,
    }
}

// advisory authoring: drafts, per-organization settings, tracking-id counters (drafts.rs)

diesel::table! {
    drafts (id) {
        id -> Text,
        manufacturer_org_id -> Text,
        tracking_id -> Text,
        advisory_id -> Nullable<Text>,
        base_version -> Nullable<Text>,
        draft_json -> Text,
        state -> Text,
        created_at -> BigInt,
        created_by -> Text,
        updated_at -> BigInt,
        updated_by -> Text,
        submitted_at -> Nullable<BigInt>,
        submitted_by -> Nullable<Text>,
        published_at -> Nullable<BigInt>,
        published_by -> Nullable<Text>,
        published_version -> Nullable<Text>,
    }
}

diesel::table! {
    organization_settings (org_id) {
        org_id -> Text,
        four_eyes -> Bool,
        updated_at -> BigInt,
        updated_by -> Text,
    }
}

diesel::table! {
    tracking_counters (prefix, year) {
        prefix -> Text,
        year -> Integer,
        last_number -> Integer,
    }
}

diesel::joinable!(drafts -> advisories (advisory_id));
diesel::allow_tables_to_appear_in_same_query!(drafts, advisories);

// releases and patches (releases.rs)

diesel::table! {
    releases (id) {
        id -> Text,
        manufacturer_org_id -> Text,
        name -> Text,
        produced_product_id -> Text,
        produced_version -> Text,
        release_date -> BigInt,
        delivery -> Text,
        regulatory_review -> Bool,
        install_notes -> Text,
        known_issues -> Text,
        url -> Nullable<Text>,
        state -> Text,
        created_at -> BigInt,
        created_by -> Text,
        updated_at -> BigInt,
        published_at -> Nullable<BigInt>,
        published_by -> Nullable<Text>,
    }
}

diesel::table! {
    release_applies_to (release_id, product_id) {
        release_id -> Text,
        product_id -> Text,
    }
}

diesel::table! {
    release_fixes (release_id, advisory_id) {
        release_id -> Text,
        advisory_id -> Text,
        revision_version -> Nullable<Text>,
        draft_id -> Nullable<Text>,
    }
}

diesel::joinable!(release_applies_to -> releases (release_id));
diesel::joinable!(release_applies_to -> products (product_id));
diesel::joinable!(release_fixes -> releases (release_id));
diesel::joinable!(release_fixes -> advisories (advisory_id));
diesel::allow_tables_to_appear_in_same_query!(releases, release_applies_to);
diesel::allow_tables_to_appear_in_same_query!(releases, release_fixes);
diesel::allow_tables_to_appear_in_same_query!(release_fixes, advisories);
diesel::allow_tables_to_appear_in_same_query!(releases, products);
diesel::allow_tables_to_appear_in_same_query!(release_applies_to, products);

// end of support (lifecycle.rs)

diesel::table! {
    product_lifecycle (product_id) {
        product_id -> Text,
        general_availability -> Nullable<Text>,
        end_of_sales -> Nullable<Text>,
        end_of_standard_support -> Nullable<Text>,
        end_of_security_updates -> Nullable<Text>,
        compensating_controls -> Text,
        advisory_tracking_id -> Nullable<Text>,
        updated_at -> BigInt,
        updated_by -> Text,
    }
}

diesel::joinable!(product_lifecycle -> products (product_id));
diesel::allow_tables_to_appear_in_same_query!(product_lifecycle, products);

diesel::table! {
    lifecycle_reminders (dedupe_key) {
        dedupe_key -> Text,
        product_id -> Text,
        due_date -> Text,
        lead_days -> Integer,
        event_id -> Text,
        created_at -> BigInt,
    }
}

// the hospital's workspace: sites, serials, remediation status (installed_base.rs, remediation.rs)

diesel::table! {
    sites (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        code -> Nullable<Text>,
        address -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    installed_serials (org_id, product_id, serial) {
        org_id -> Text,
        product_id -> Text,
        serial -> Text,
        entry_id -> Text,
    }
}

diesel::table! {
    remediation_status (site_id, advisory_id) {
        site_id -> Text,
        advisory_id -> Text,
        org_id -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        note -> Nullable<Text>,
        release_ref -> Nullable<Text>,
        actor -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    remediation_history (id) {
        id -> Text,
        site_id -> Text,
        advisory_id -> Text,
        org_id -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        note -> Nullable<Text>,
        release_ref -> Nullable<Text>,
        actor -> Text,
        at -> BigInt,
    }
}

diesel::joinable!(installed_base -> sites (site_id));
diesel::joinable!(installed_serials -> installed_base (entry_id));
diesel::joinable!(remediation_status -> sites (site_id));
diesel::joinable!(remediation_status -> advisories (advisory_id));
diesel::allow_tables_to_appear_in_same_query!(installed_base, sites);
diesel::allow_tables_to_appear_in_same_query!(installed_base, advisories);
diesel::allow_tables_to_appear_in_same_query!(sites, products);
diesel::allow_tables_to_appear_in_same_query!(installed_serials, installed_base);
diesel::allow_tables_to_appear_in_same_query!(installed_serials, sites);
diesel::allow_tables_to_appear_in_same_query!(remediation_status, sites);
diesel::allow_tables_to_appear_in_same_query!(remediation_status, advisories);

diesel::table! {
    installed_base_imports (id) {
        id -> Text,
        org_id -> Text,
        csv -> Binary,
        created_at -> BigInt,
        created_by -> Text,
    }
}
