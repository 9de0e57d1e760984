DROP TABLE system_mail;
DROP TABLE destination_outages;
DROP INDEX deliveries_lease_owner;
