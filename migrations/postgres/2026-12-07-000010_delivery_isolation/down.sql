DROP TABLE system_mail;
DROP TABLE destination_outages;
