-- rule: tag("控糖")
-- plan: tag("控糖")

-- tag("控糖")
-- kinds: tags
-- {p0:String} = "控糖"
-- raw person ids, folded into canonical persons by the engine
SELECT toString(groupBitmapState(f.person_id)) FROM (
		SELECT person_id FROM (SELECT person_id, deleted FROM `cdp`.`person_tags` FINAL WHERE tag = {p0:String})
		WHERE deleted = 0
			AND person_id != 0
	) AS f;

-- counted by the engine on one node: persons with 1 to 255 rows (255: no upper bound)
SELECT toString(groupArrayState(f.person_id)) FROM (
		SELECT person_id FROM (SELECT person_id, deleted FROM `cdp`.`person_tags` FINAL WHERE tag = {p0:String})
		WHERE deleted = 0
	) AS f
GROUP BY intDiv(rowNumberInAllBlocks(), 4194304);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id FROM (SELECT person_id, deleted FROM `cdp`.`person_tags` FINAL WHERE tag = {p0:String})
		WHERE deleted = 0
			AND person_id != 0
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
);

