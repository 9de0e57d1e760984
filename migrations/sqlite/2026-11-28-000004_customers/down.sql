DROP TABLE subscriptions;
DROP TABLE entitlement_grants;
DROP TABLE installed_base;
DROP TABLE customers;
