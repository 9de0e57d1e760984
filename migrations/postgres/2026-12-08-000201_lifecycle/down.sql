DROP TABLE product_lifecycle;
