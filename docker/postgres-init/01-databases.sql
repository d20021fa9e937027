-- Run once by the postgres image, on an empty data volume: one database per component,
-- owned by the compose user (POSTGRES_USER), which runs this script.
CREATE DATABASE gateway;
CREATE DATABASE clubs;
CREATE DATABASE loans;
CREATE DATABASE funding;
