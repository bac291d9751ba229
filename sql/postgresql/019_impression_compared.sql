-- 019_impression_compared.sql: the comparison of an application's
-- impression with the one filed with public security (issue 18 item 6;
-- HLJ art. 11, GD art. 11-12), kept on the application so that its
-- decision can say what was compared.
--
-- The latest comparison a reviewer asked for (POST .../impression-check):
-- the code it was filed under, the outcome ('same', 'different' or
-- 'not_filed': the system holds nothing under the code), the SM3 of the
-- filed image (NULL when not filed) and of the submitted image it was
-- compared with, who asked and when.  Every comparison is also in the
-- audit log; these columns are the one the decision rests on.  A
-- resubmission with another image leaves them naming the old image's SM3,
-- so the decision can tell the comparison is stale.
ALTER TABLE applications ADD COLUMN impression_code TEXT;
ALTER TABLE applications ADD COLUMN impression_outcome TEXT;
ALTER TABLE applications ADD COLUMN impression_filed_sm3 TEXT;
ALTER TABLE applications ADD COLUMN impression_compared_sm3 TEXT;
ALTER TABLE applications ADD COLUMN impression_checked_by BIGINT REFERENCES accounts(id);
ALTER TABLE applications ADD COLUMN impression_checked_ms BIGINT;
