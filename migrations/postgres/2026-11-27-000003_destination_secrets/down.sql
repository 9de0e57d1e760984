DROP TABLE destination_secrets;
