DROP INDEX deliveries_open;
