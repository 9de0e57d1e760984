DROP TABLE destination_health;
