package gen

// The static catalogue: cities, products, content topics, search keywords,
// chat templates and staff. Everything here is read-only after package
// initialisation; a Generator never writes to it.

// City is a city where the brand's households live.
type City struct {
	Name     string
	Province string
	// Tier is the city tier: 1 for 北京, 上海, 广州, 深圳; 2 for the new
	// first-tier and large provincial capitals; 3 and 4 below them.
	Tier int
	// Code names the city in store ids (SH01) and QR-code states
	// (store_qr_sh01).
	Code string
	// Weight is the city's relative share of the brand's households.
	Weight float64
	// Stores is the number of stores with a POS in the city.
	Stores int
	region region
}

// region decides which oil a household cooks with by default.
type region uint8

const (
	regionEast      region = iota // peanut oil country
	regionNorth                   // corn and peanut oil
	regionSouthwest               // rapeseed oil (川湘鄂赣黔)
)

// cities holds about forty cities across tiers. Weights follow population
// and online-grocery penetration: tier 1 is over-represented, as for any
// brand that sells on Tmall and Douyin.
var cities = []City{
	{"北京", "北京", 1, "bj", 5.0, 8, regionNorth},
	{"上海", "上海", 1, "sh", 5.0, 8, regionEast},
	{"广州", "广东", 1, "gz", 4.0, 6, regionEast},
	{"深圳", "广东", 1, "sz", 4.0, 6, regionEast},
	{"成都", "四川", 2, "cd", 3.2, 4, regionSouthwest},
	{"重庆", "重庆", 2, "cq", 3.0, 4, regionSouthwest},
	{"杭州", "浙江", 2, "hz", 2.8, 4, regionEast},
	{"武汉", "湖北", 2, "wh", 2.6, 4, regionSouthwest},
	{"西安", "陕西", 2, "xa", 2.2, 3, regionNorth},
	{"苏州", "江苏", 2, "su", 2.2, 3, regionEast},
	{"南京", "江苏", 2, "nj", 2.2, 3, regionEast},
	{"天津", "天津", 2, "tj", 2.2, 3, regionNorth},
	{"长沙", "湖南", 2, "cs", 2.0, 3, regionSouthwest},
	{"郑州", "河南", 2, "zz", 2.0, 3, regionNorth},
	{"东莞", "广东", 2, "dg", 1.8, 2, regionEast},
	{"青岛", "山东", 2, "qd", 1.8, 2, regionNorth},
	{"沈阳", "辽宁", 2, "sy", 1.6, 2, regionNorth},
	{"宁波", "浙江", 2, "nb", 1.6, 2, regionEast},
	{"昆明", "云南", 2, "km", 1.5, 2, regionSouthwest},
	{"合肥", "安徽", 3, "hf", 1.5, 2, regionEast},
	{"福州", "福建", 3, "fz", 1.3, 2, regionEast},
	{"济南", "山东", 3, "jn", 1.4, 2, regionNorth},
	{"哈尔滨", "黑龙江", 3, "hrb", 1.3, 2, regionNorth},
	{"长春", "吉林", 3, "cc", 1.1, 1, regionNorth},
	{"石家庄", "河北", 3, "sjz", 1.2, 1, regionNorth},
	{"南昌", "江西", 3, "nc", 1.1, 1, regionSouthwest},
	{"南宁", "广西", 3, "nn", 1.1, 1, regionEast},
	{"贵阳", "贵州", 3, "gy", 1.0, 1, regionSouthwest},
	{"太原", "山西", 3, "ty", 1.0, 1, regionNorth},
	{"厦门", "福建", 3, "xm", 1.0, 1, regionEast},
	{"无锡", "江苏", 3, "wx", 1.0, 1, regionEast},
	{"佛山", "广东", 3, "fs", 1.2, 1, regionEast},
	{"大连", "辽宁", 3, "dl", 1.0, 1, regionNorth},
	{"洛阳", "河南", 4, "ly", 0.8, 1, regionNorth},
	{"赣州", "江西", 4, "ganz", 0.7, 1, regionSouthwest},
	{"绵阳", "四川", 4, "my", 0.6, 1, regionSouthwest},
	{"潍坊", "山东", 4, "wf", 0.7, 1, regionNorth},
	{"岳阳", "湖南", 4, "yy", 0.6, 1, regionSouthwest},
	{"襄阳", "湖北", 4, "xy", 0.6, 1, regionSouthwest},
	{"桂林", "广西", 4, "gl", 0.5, 1, regionEast},
	{"邯郸", "河北", 4, "hd", 0.6, 1, regionNorth},
	{"盐城", "江苏", 4, "yc", 0.6, 1, regionEast},
}

// Cities returns a copy of the city table the generator draws from.
func Cities() []City {
	out := make([]City, len(cities))
	copy(out, cities)
	return out
}

// Product is a SKU the brand sells.
type Product struct {
	SKU      string
	Name     string // product_name on order lines
	Category string // the audience-relevant category
	// Price and PromoPrice are in fen (1/100 yuan); PromoPrice applies
	// during 618 and 双11 on the online channels.
	Price, PromoPrice int64
	// Size is grams for rice and millilitres for oil.
	Size int
	Rice bool
}

// Product indexes into products.
const (
	skuWuchang5 = iota
	skuDongbei10
	skuLowGI25
	skuLowGITrial
	skuPeanut5
	skuHighOleic18
	skuHighOleic5
	skuRapeseed5
	skuCorn5
	skuSmallPeanut400
	skuSmallHighOleic900
)

var products = []Product{
	{"WC-5KG", "五常大米 5kg", "五常大米", 7990, 6990, 5000, true},
	{"DB-10KG", "东北大米 10kg", "东北大米", 6990, 5990, 10000, true},
	{"LGI-2.5", "低GI大米 2.5kg", "低GI大米", 3990, 3490, 2500, true},
	{"LGI-0.5-TRIAL", "低GI大米试用装 500g", "低GI大米", 990, 990, 500, true},
	{"PO-5L", "花生油 5L", "花生油", 12990, 10990, 5000, false},
	{"HOPO-1.8L", "高油酸花生油 1.8L", "高油酸花生油", 6990, 5990, 1800, false},
	{"HOPO-5L", "高油酸花生油 5L", "高油酸花生油", 16990, 14990, 5000, false},
	{"RO-5L", "菜籽油 5L", "菜籽油", 8990, 7990, 5000, false},
	{"CO-5L", "玉米油 5L", "玉米油", 7990, 6990, 5000, false},
	{"SP-PO-400", "花生油 小包装 400ml", "小包装油", 1690, 1490, 400, false},
	{"SP-HOPO-900", "高油酸花生油 小包装 900ml", "小包装油", 3290, 2890, 900, false},
}

// Products returns a copy of the product table.
func Products() []Product {
	out := make([]Product, len(products))
	copy(out, products)
	return out
}

// Content topics of Douyin videos and live rooms.
const (
	topicSugar = iota // 控糖
	topicLowGI        // 低GI
	topicSlim         // 减脂
	topicBaby         // 宝宝辅食
	topicHome         // 家常菜
	topicGrain        // 粮油知识
	topicBreak        // 营养早餐
	topicGift         // 节日礼盒
	numTopics
)

var topicNames = [numTopics]string{"控糖", "低GI", "减脂", "宝宝辅食", "家常菜", "粮油知识", "营养早餐", "节日礼盒"}

// baseTopicWeights is what an average household's feed shows; interests
// add to it (see household.topicWeights).
var baseTopicWeights = [numTopics]float64{0.04, 0.03, 0.08, 0.03, 0.35, 0.20, 0.17, 0.10}

// videosPerTopic is the size of each topic's video pool.
const videosPerTopic = 300

// authors post the videos: the brand's own accounts and food KOLs.
var authors = []string{
	"granary_official", "granary_nutrition", "dietitian_lin", "chef_wang_homecook", "sugar_control_doc",
	"mama_babyfood", "fitmeal_xiaoyu", "grain_oil_lab", "northeast_rice_farm", "kitchen_daily",
}

// comments are what viewers write under a video, by topic.
var comments = [numTopics][]string{
	topicSugar: {"家里老人血糖高，这个真的有用吗？", "控糖期间能吃这个米吗", "学到了，控糖原来要这样吃", "血糖高的人主食怎么选？"},
	topicLowGI: {"低GI大米口感怎么样", "低GI的米会不会很硬", "已下单低GI大米试试"},
	topicSlim:  {"减脂期用什么油好", "高油酸花生油减脂能吃吗", "减脂餐收藏了"},
	topicBaby:  {"宝宝几个月可以吃这个", "辅食用什么油比较好", "宝宝粥怎么熬才好吃"},
	topicHome:  {"看着就好吃", "今晚就做这个", "求菜谱", "已关注"},
	topicGrain: {"原来花生油要这样选", "五常大米怎么辨真假", "涨知识了"},
	topicBreak: {"早餐就这么吃", "孩子很喜欢", "收藏了"},
	topicGift:  {"礼盒好看，送长辈合适", "中秋送这个体面", "求链接"},
}

// Search keywords, grouped by what drives the search.
var (
	keywordsGeneral = []string{"五常大米", "东北大米", "花生油", "菜籽油", "玉米油", "食用油哪个牌子好", "大米怎么选", "粮油礼盒"}
	keywordsSugar   = []string{"低GI大米", "控糖食谱", "糖尿病吃什么米", "血糖高吃什么主食", "低GI大米试用装"}
	keywordsSlim    = []string{"高油酸花生油", "减脂餐", "减脂用什么油"}
	keywordsBaby    = []string{"宝宝辅食", "宝宝粥", "婴儿辅食油"}
	keywordsLowGI   = []string{"低GI大米", "低GI食物", "高油酸花生油"}
)

// Mini-program pages.
var mpPages = []struct{ name, path string }{
	{"首页", "pages/index/index"},
	{"商品详情", "pages/goods/detail"},
	{"领券中心", "pages/coupon/center"},
	{"控糖专区", "pages/topic/sugar"},
}

// Chat templates. A conversation is a customer question and the staff
// member's answer of the same index.
type chatTopic uint8

const (
	chatSugar chatTopic = iota
	chatTrial
	chatSlim
	chatBaby
	chatGeneral
	numChatTopics
)

var customerLines = [numChatTopics][]string{
	chatSugar: {
		"家里老人血糖偏高，平时吃什么米比较好？",
		"低GI大米真的能控糖吗？",
		"控糖期间一顿吃多少米合适",
		"我妈有糖尿病，血糖总是不稳，这个米能吃吗",
	},
	chatTrial: {
		"低GI大米有试用装吗？想先给家里老人试试",
		"试用装怎么领？",
	},
	chatSlim: {
		"减脂期间用什么油比较好",
		"高油酸花生油热量高吗",
	},
	chatBaby: {
		"宝宝8个月了，辅食可以用你们的油吗",
		"宝宝辅食用什么米熬粥好",
	},
	chatGeneral: {
		"最近有什么活动吗",
		"上次买的油快用完了，有优惠吗",
		"五常大米还有货吗",
		"配送一般几天到",
		"团购什么时候开团",
	},
}

var staffLines = [numChatTopics][]string{
	chatSugar: {
		"您好，低GI大米升糖较慢，适合控糖人群，建议搭配杂粮，每餐一小碗（约100克生米）。血糖控制请遵医嘱哦。",
		"低GI大米的GI值约为普通大米的七成，配合饮食控制对平稳血糖有帮助，可以先领试用装试试。",
		"控糖期间主食建议定量，一餐约一拳大小，细嚼慢咽，饭后散步二十分钟更好。",
		"理解您的担心，低GI大米适合血糖偏高的家人，建议先少量试吃并监测血糖。",
	},
	chatTrial: {
		"有的，已为您登记低GI大米试用装500g，小程序下单只需9.9元包邮。",
		"试用装在小程序控糖专区领取，9.9元包邮，一户限领一次。",
	},
	chatSlim: {
		"减脂期推荐高油酸花生油，油酸含量高，每天控制在25克以内就好。",
		"热量和普通食用油相近，关键是控制用量，建议用喷壶或小勺。",
	},
	chatBaby: {
		"宝宝满6个月后可以少量添加，建议用高油酸花生油小包装，新鲜不易氧化。",
		"熬粥推荐五常大米，米油多，口感软糯，适合宝宝。",
	},
	chatGeneral: {
		"近期小程序有满减券，领券后下单更划算。",
		"可以在小程序领满199减30的券，老客户还有积分抵扣。",
		"有货的，小程序和门店都可以买。",
		"一般下单后2-3天送达，偏远地区4-5天。",
		"本周四开团，团长会在群里通知。",
	},
}

var (
	thanksLines  = []string{"好的，谢谢", "收到", "好的，我去看看", "谢谢老师"}
	welcomeLines = []string{
		"您好，我是您的家庭营养顾问，粮油选购和控糖饮食的问题随时问我～",
		"您好！感谢添加，我是品牌的营养顾问，每周会分享健康食谱，有需要随时找我。",
	}
	optOutLines = []string{"以后不用给我发消息了，退订", "退订，别再发了"}
	// checkInLines are the nutrition adviser's monthly 控糖 follow-up
	// (控糖打卡) and checkInReplies the customers' answers: each names
	// their blood sugar (血糖), as the follow-up asks.
	checkInLines = []string{
		"控糖打卡：这个月血糖情况怎么样？主食换成低GI大米后有变化吗？",
		"本月控糖回访：最近空腹和餐后血糖稳定吗？有饮食上的问题随时问我。",
	}
	checkInReplies = []string{
		"这个月空腹血糖6点多，比之前稳了",
		"餐后血糖还是有点高，晚饭的主食该怎么减？",
		"老人最近血糖挺稳的，米快吃完了",
		"血糖还行，就是外面吃饭不好控制",
	}
)

// promoLines are the staff members' messages at the start of a promotion,
// indexed by promoKind.
var promoLines = [numPromoKinds]string{
	promoSpring:    "【年货节】春节囤粮油，满199减30，五常大米、花生油礼盒都在小程序里～",
	promo618:       "【618】高油酸花生油5L限时直降20元，小程序领券再减，6月18日截止。",
	promoDouble11:  "【双11】五常大米、低GI大米全年最低价，11月11日0点开抢，先领券哦。",
	promoMidAutumn: "【中秋】粮油礼盒上新，送长辈送客户都体面，门店和小程序同价。",
}

// staffNames are the WeCom userids of the brand's staff (店长, 导购 and
// family nutrition advisers): about fifty, as a mid-sized brand has.
var staffNames = []string{
	"ZhangWei", "WangFang", "LiNa", "LiuYang", "ChenJing", "YangLi", "HuangMin", "ZhaoLei", "WuYan", "ZhouJie",
	"XuJuan", "SunTao", "MaChao", "ZhuXia", "HuPing", "GuoGang", "HeHua", "LinHong", "GaoYu", "LuoXin",
	"ZhengHao", "LiangTing", "XieXue", "SongDan", "TangChen", "XuLei", "HanMei", "FengJun", "DengYun", "CaoLin",
	"PengFei", "ZengQi", "XiaoYu", "TianLu", "DongMing", "PanYue", "YuanJie", "CaiNing", "JiangHui", "YuQing",
	"DuWen", "YeZi", "ChengLong", "WeiLan", "SuYing", "LvBo", "DingRui", "RenXin", "ShenYi", "YaoJia",
}

// onlineStaff is how many of staffNames (the last ones) are online
// advisers serving every city; the others belong to the stores of the
// tier-1 and tier-2 cities, round-robin.
const onlineStaff = 10

// Names for customers.
var (
	surnames = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
		"郭", "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹"}
	givenNames = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
		"涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "华", "红", "玉兰", "浩", "宇",
		"欣怡", "子涵", "梓涵", "一诺", "浩然", "俊杰", "婷", "雪", "丹", "晨"}
)

// Mini-program app ids: the brand's own mini program and the
// community group-buying app. An openid is per app, a unionid per person.
const (
	appBrand    = "wx2b7c9e1f4a6d8c03"
	appGroupBuy = "wx8f3a1c2b9d7e6f05"
)

// placeholders are what broken SDKs send as anonymousId; the platform
// refuses them as identifiers.
var placeholders = []string{"0", "null", "undefined"}
