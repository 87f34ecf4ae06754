"""Value pools for realistic benchmark data: Chinese names, regions, mobile prefixes, join channels and a product
catalogue. Weights are given by repetition so that a pool can be sampled by index, in Python or in SQL."""

import random

# Surnames by rough frequency: the five most common three times, the next twenty twice, the rest once.
_SURNAMES = (
    "王李张刘陈",
    "杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐",
    "许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤",
)
SURNAMES = [*list(_SURNAMES[0]) * 3, *list(_SURNAMES[1]) * 2, *list(_SURNAMES[2]), "欧阳", "司马", "上官", "诸葛"]
GIVEN_FEMALE = list("芳娜敏静丽艳娟霞秀玲燕婷雪慧颖琳欣怡佳梦雨晨思萱涵瑶琪悦蕾倩菲妍妮璐")
GIVEN_MALE = list("伟强磊军勇杰涛明超刚平辉鹏华飞浩宇轩博文俊凯睿哲鑫斌彬健洋翔晖")
GIVEN_ANY = list("晓海林嘉一天志建国春子安可乐心诗雅云帆家泽")

# "Province city" as members give it; the filter matches by prefix ("广东" matches "广东省 深圳市").
_REGIONS = {
    "广东省": ("深圳市", 6, "广州市", 6, "东莞市", 3, "佛山市", 3, "珠海市", 1, "汕头市", 1),
    "浙江省": ("杭州市", 6, "宁波市", 3, "温州市", 2, "金华市", 2, "绍兴市", 1),
    "江苏省": ("南京市", 4, "苏州市", 5, "无锡市", 2, "常州市", 1, "南通市", 1),
    "上海市": ("浦东新区", 4, "闵行区", 2, "徐汇区", 2, "静安区", 1, "宝山区", 1),
    "北京市": ("朝阳区", 4, "海淀区", 3, "丰台区", 2, "东城区", 1, "昌平区", 1),
    "山东省": ("济南市", 3, "青岛市", 3, "烟台市", 1, "潍坊市", 1),
    "四川省": ("成都市", 6, "绵阳市", 1),
    "湖北省": ("武汉市", 5, "宜昌市", 1),
    "河南省": ("郑州市", 4, "洛阳市", 1),
    "福建省": ("福州市", 2, "厦门市", 3, "泉州市", 2),
    "湖南省": ("长沙市", 4, "株洲市", 1),
    "陕西省": (
        "西安市",
        4,
    ),
    "重庆市": ("渝北区", 2, "江北区", 1, "九龙坡区", 1),
    "天津市": ("南开区", 1, "滨海新区", 1),
    "安徽省": ("合肥市", 3, "芜湖市", 1),
    "河北省": ("石家庄市", 2, "保定市", 1, "唐山市", 1),
    "辽宁省": ("沈阳市", 2, "大连市", 2),
    "云南省": (
        "昆明市",
        2,
    ),
    "广西壮族自治区": ("南宁市", 2, "桂林市", 1),
    "江西省": (
        "南昌市",
        2,
    ),
    "山西省": (
        "太原市",
        1,
    ),
    "黑龙江省": (
        "哈尔滨市",
        2,
    ),
    "吉林省": (
        "长春市",
        1,
    ),
    "贵州省": (
        "贵阳市",
        1,
    ),
    "新疆维吾尔自治区": (
        "乌鲁木齐市",
        1,
    ),
    "内蒙古自治区": (
        "呼和浩特市",
        1,
    ),
    "甘肃省": (
        "兰州市",
        1,
    ),
    "海南省": ("海口市", 1, "三亚市", 1),
    "宁夏回族自治区": (
        "银川市",
        1,
    ),
    "青海省": (
        "西宁市",
        1,
    ),
    "西藏自治区": (
        "拉萨市",
        1,
    ),
}
REGIONS = [
    f"{province} {cities[i]}"
    for province, cities in _REGIONS.items()
    for i in range(0, len(cities), 2)
    for _ in range(cities[i + 1])
]

# Mainland mobile prefixes; phones are +86, prefix, eight digits.
MOBILE_PREFIXES = [
    str(p) for p in (*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, *range(180, 190), 199)
]

JOIN_CHANNELS = ["store"] * 30 + ["wechat"] * 25 + ["tmall"] * 15 + ["douyin"] * 10 + ["jd"] * 8
JOIN_CHANNELS += ["purchase"] * 7 + ["referral"] * 5
ORDER_PREFIXES = ["TB", "TB", "TB", "JD", "DY", "POS", "POS", "WX"]

CATEGORIES = ["母婴", "美妆", "食品", "服饰", "数码", "家居"]
_PRODUCTS = {
    "母婴": (
        "MB",
        [
            ("婴儿纸尿裤", 129),
            ("婴儿湿巾 80抽×6包", 49),
            ("宽口径奶瓶", 89),
            ("婴儿配方奶粉 3段 800g", 268),
            ("儿童洗发沐浴露", 59),
            ("婴儿连体衣", 99),
            ("有机辅食米粉", 68),
            ("安抚奶嘴", 39),
            ("轻便婴儿推车", 899),
            ("儿童保温杯", 119),
        ],
    ),
    "美妆": (
        "MZ",
        [
            ("玻尿酸补水面膜 10片", 99),
            ("保湿精华液 30ml", 329),
            ("清爽防晒霜 SPF50", 139),
            ("丝绒哑光口红", 199),
            ("氨基酸洗面奶", 79),
            ("卸妆水 500ml", 89),
            ("紧致眼霜", 259),
            ("持妆粉底液", 299),
            ("防水眉笔", 49),
            ("淡香水 50ml", 459),
        ],
    ),
    "食品": (
        "SP",
        [
            ("每日坚果 30袋", 139),
            ("东北有机大米 5kg", 79),
            ("纯牛奶 250ml×24", 69),
            ("澳洲牛排套餐", 199),
            ("明前龙井 250g", 368),
            ("柳州螺蛳粉 ×5", 49),
            ("土蜂蜜 500g", 88),
            ("挂耳咖啡 50包", 119),
            ("零食大礼包", 99),
            ("特级初榨橄榄油 1L", 129),
        ],
    ),
    "服饰": (
        "FS",
        [
            ("纯棉圆领T恤", 79),
            ("轻薄羽绒服", 499),
            ("直筒牛仔裤", 229),
            ("透气跑步鞋", 399),
            ("真丝围巾", 299),
            ("羊毛开衫", 359),
            ("碎花连衣裙", 269),
            ("加绒卫衣", 189),
            ("棉袜 5双装", 39),
            ("通勤双肩包", 199),
        ],
    ),
    "数码": (
        "SM",
        [
            ("降噪蓝牙耳机", 599),
            ("充电宝 20000mAh", 149),
            ("磁吸手机壳", 59),
            ("快充数据线", 39),
            ("智能手表", 1299),
            ("移动硬盘 1TB", 399),
            ("机械键盘", 349),
            ("静音无线鼠标", 89),
            ("平板电脑保护套", 79),
            ("智能音箱", 299),
        ],
    ),
    "家居": (
        "JJ",
        [
            ("纯棉四件套", 399),
            ("泰国乳胶枕", 199),
            ("收纳箱 3件套", 89),
            ("麦饭石不粘锅", 169),
            ("保温杯 500ml", 99),
            ("香薰蜡烛", 69),
            ("懒人沙发", 459),
            ("纯棉毛巾 4条装", 59),
            ("声波电动牙刷", 249),
            ("空气炸锅", 399),
        ],
    ),
}
_VARIANTS = ["", "（经典款）", "（大号）", "（礼盒装）"]


def catalogue(seed: int) -> list[tuple[str, str, str, int]]:
    """(sku, name, category, unit price in fen) for 240 products, shuffled so that popularity (the sampling skew
    towards low indexes) spreads over the categories."""
    rng = random.Random(seed)
    rows = []
    for category, (code, products) in _PRODUCTS.items():
        for p, (name, price) in enumerate(products):
            for v, variant in enumerate(_VARIANTS):
                fen = round(price * (1 + 0.25 * v) * rng.uniform(0.9, 1.1)) * 100 - (100 if v else 0)
                rows.append((f"{code}-{p + 1:02d}{v + 1:02d}", f"{name}{variant}", category, fen))
    rng.shuffle(rows)
    return rows


TAGS = [
    # (name, kind, rule, how members get it)
    ("VIP候选", "manual", {}, "20% of members"),
    ("门店活动", "manual", {}, "5% of members"),
    ("高消费", "rule", {"spend_12m_min": "2000"}, "spend_12m >= 2000"),
    ("沉睡会员", "rule", {"last_order_before_days": 180, "orders_min": 1}, "bought, not in 180 days"),
]
