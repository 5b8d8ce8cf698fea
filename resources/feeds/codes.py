"""Reference data for the synthetic plan, in one place: clinical code lists, drugs, regions, plans and names.

Codes are the public families named in measures.md (ICD-10-CM, CPT/HCPCS, LOINC); NDCs are illustrative
11-digit codes keyed to one drug and strength each, not a drug reference. Weighted lists are tuples of
(value, weight); the generator normalises the weights.
"""

from __future__ import annotations

from typing import NamedTuple

# --- ICD-10-CM diagnoses -------------------------------------------------------------------------
DIABETES_DX = (("E11.9", 0.45), ("E11.65", 0.20), ("E11.22", 0.10), ("E11.40", 0.06), ("E11.319", 0.04),
               ("E13.9", 0.02), ("E10.9", 0.06), ("E10.65", 0.02), ("E11.8", 0.05))
TYPE1_DIABETES_DX = ("E10.9", "E10.65")
HYPERTENSION_DX = (("I10", 0.92), ("I11.9", 0.08))
ASCVD_DX = (("I25.10", 0.55), ("I25.2", 0.15), ("I25.119", 0.08), ("I63.9", 0.10), ("I70.213", 0.05), ("I25.810", 0.07))
ACUTE_MI_DX = "I21.4"
OBESITY_DX = "E66.9"
BILATERAL_MASTECTOMY_DX = "Z90.13"
COLORECTAL_CANCER_DX = (("C18.9", 0.45), ("C18.7", 0.20), ("C20", 0.25), ("C18.2", 0.10))
SCREENING_MAMMOGRAM_DX = "Z12.31"
BREAST_LUMP_DX = "N63.0"
SCREENING_COLORECTAL_DX = "Z12.11"
DIABETES_SCREENING_DX = "Z13.1"
HYPERLIPIDEMIA_DX = "E78.5"
COLON_POLYP_DX = "K63.5"
OFFICE_DX = (("Z00.00", 0.10), ("Z00.01", 0.05), ("J06.9", 0.12), ("M54.50", 0.08), ("R05.9", 0.05), ("K21.9", 0.06),
             ("E78.5", 0.14), ("F41.1", 0.06), ("J30.9", 0.05), ("L30.9", 0.04), ("M25.561", 0.04), ("R51.9", 0.04),
             ("N39.0", 0.04), ("Z23", 0.05), ("E03.9", 0.04), ("F32.A", 0.04))
ED_DX = (("R07.9", 0.18), ("R10.9", 0.16), ("S93.401A", 0.08), ("J18.9", 0.08), ("N39.0", 0.08), ("R55", 0.06),
         ("S01.81XA", 0.07), ("T78.40XA", 0.04), ("J06.9", 0.10), ("R51.9", 0.08), ("M54.50", 0.07))
INPATIENT_DX = (("J18.9", 0.22), ("I50.9", 0.18), ("A41.9", 0.16), ("N17.9", 0.10), ("K57.92", 0.08), ("J44.1", 0.12),
                ("K80.20", 0.06), ("M17.11", 0.08))

# --- CPT / HCPCS procedures, with the place of service each is billed at ---------------------------
OFFICE_EM = (("99212", 0.14), ("99213", 0.48), ("99214", 0.30), ("99215", 0.04), ("99203", 0.02), ("99204", 0.02))
TELEHEALTH_EM = (("99212", 0.30), ("99213", 0.50), ("99214", 0.20))
PREVENTIVE_BY_AGE = ((0, "99393"), (12, "99394"), (18, "99395"), (40, "99396"), (65, "99397"))
MEDICARE_WELLNESS = ("G0438", "G0439")
OFFICE_LABS = (("36415", 0.45), ("80053", 0.25), ("85025", 0.20), ("81002", 0.10))
ED_EM = (("99283", 0.35), ("99284", 0.40), ("99285", 0.25))
ED_EXTRAS = (("71046", 0.45), ("74177", 0.20), ("80053", 0.35))
INPATIENT_ADMIT, INPATIENT_DAILY, INPATIENT_DISCHARGE = "99223", "99232", "99238"
PCI = "92928"
MAMMOGRAM = (("77067", 0.85), ("G0202", 0.04), ("77066", 0.05), ("77065", 0.06))
SCREENING_MAMMOGRAM = "77067"
DIAGNOSTIC_MAMMOGRAM = ("77065", "77066")
TOMOSYNTHESIS_ADDON = "77063"
COLONOSCOPY = (("45378", 0.58), ("45380", 0.20), ("45385", 0.12), ("G0121", 0.07), ("G0105", 0.03))
COLONOSCOPY_WITH_TISSUE = ("45380", "45385")  # biopsy, snare polypectomy: pathology follows
COLONOSCOPY_ANESTHESIA = "00812"
SURGICAL_PATHOLOGY = "88305"
FIT = (("82274", 0.80), ("G0328", 0.20))
STOOL_DNA = "81528"
HBA1C_CPT = "83036"
LIPID_PANEL_CPT = "80061"
CREATININE_CPT = "82565"
URINE_ALBUMIN_CPT = "82043"
URINE_CREATININE_CPT = "82570"

POS_OFFICE, POS_TELEHEALTH, POS_TELEHEALTH_HOME = "11", "02", "10"
POS_INPATIENT, POS_OUTPATIENT_HOSPITAL, POS_ED, POS_ASC, POS_LAB = "21", "22", "23", "24", "81"

# Typical billed charge in USD per procedure (before member-level noise and the plan's allowed ratio).
BILLED_CHARGE = {
    "99212": 95, "99213": 150, "99214": 215, "99215": 300, "99203": 190, "99204": 290,
    "99393": 210, "99394": 230, "99395": 250, "99396": 270, "99397": 290, "G0438": 240, "G0439": 175,
    "36415": 18, "80053": 55, "85025": 35, "81002": 15,
    "99283": 650, "99284": 1050, "99285": 1650, "71046": 210, "74177": 1450,
    "99223": 520, "99232": 210, "99238": 230, "92928": 9800,
    "77067": 280, "G0202": 250, "77066": 360, "77065": 300, "77063": 120,
    "45378": 1900, "45380": 2300, "45385": 2600, "G0121": 1900, "G0105": 1900, "00812": 650, "88305": 180,
    "82274": 30, "G0328": 30, "81528": 590, "83036": 45, "80061": 60, "82565": 25, "82043": 30, "82570": 20,
}

# --- LOINC lab tests and vitals ----------------------------------------------------------------------
class LabTest(NamedTuple):
    loinc: str
    name: str
    unit: str
    low: float | None
    high: float | None
    places: int


HBA1C_TESTS = ((LabTest("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.0, 5.6, 1), 0.90),
               (LabTest("17856-6", "Hemoglobin A1c/Hemoglobin.total in Blood by HPLC", "%", 4.0, 5.6, 1), 0.05),
               (LabTest("4549-2", "Hemoglobin A1c/Hemoglobin.total in Blood by Electrophoresis", "%", 4.0, 5.6, 1), 0.05))
EGFR_TESTS = ((LabTest("33914-3", "Glomerular filtration rate/1.73 sq M.predicted [MDRD]", "mL/min/{1.73_m2}", 60, None, 0), 0.55),
              (LabTest("98979-8", "Glomerular filtration rate/1.73 sq M.predicted [CKD-EPI 2021]", "mL/min/{1.73_m2}", 60, None, 0), 0.45))
UACR_TESTS = ((LabTest("14959-1", "Microalbumin/Creatinine [Mass Ratio] in Urine", "mg/g{creat}", None, 30, 1), 0.85),
              (LabTest("9318-7", "Albumin/Creatinine [Mass Ratio] in Urine", "mg/g{creat}", None, 30, 1), 0.15))
TOTAL_CHOLESTEROL = LabTest("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 125, 200, 0)
HDL = LabTest("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 40, None, 0)
LDL = LabTest("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", "mg/dL", None, 100, 0)
TRIGLYCERIDES = LabTest("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", None, 150, 0)
FIT_RESULT = LabTest("29771-3", "Hemoglobin.gastrointestinal [Presence] in Stool by Immunoassay", "{presence}", None, None, 0)
STOOL_DNA_RESULT = LabTest("77353-1", "Noninvasive colorectal cancer DNA and occult blood screening [Interpretation] in Stool",
                           "{presence}", None, None, 0)

SYSTOLIC_LOINC, DIASTOLIC_LOINC, BMI_LOINC = "8480-6", "8462-4", "39156-5"
BP_UNIT, BMI_UNIT = "mm[Hg]", "kg/m2"

PERFORMING_LABS = ("Quest Diagnostics", "Labcorp", "Sonic Healthcare USA", "BioReference Laboratories", "ARUP Laboratories")
EHR_SYSTEMS = ("Epic", "Oracle Health", "athenaOne", "eClinicalWorks", "NextGen")

# --- Drugs: one row per dispensable product ------------------------------------------------------------
class Drug(NamedTuple):
    ndc: str
    name: str
    therapeutic_class: str
    strength_mg: float | None
    units_per_day: float
    unit_cost: float
    intensity: str = ""


STATINS = (
    Drug("00071015523", "atorvastatin 10 mg tablet", "statin", 10, 1, 0.12, "moderate"),
    Drug("00071015623", "atorvastatin 20 mg tablet", "statin", 20, 1, 0.15, "moderate"),
    Drug("00071015723", "atorvastatin 40 mg tablet", "statin", 40, 1, 0.18, "high"),
    Drug("00071015823", "atorvastatin 80 mg tablet", "statin", 80, 1, 0.22, "high"),
    Drug("00310075190", "rosuvastatin 5 mg tablet", "statin", 5, 1, 0.14, "moderate"),
    Drug("00310075290", "rosuvastatin 10 mg tablet", "statin", 10, 1, 0.16, "moderate"),
    Drug("00310075590", "rosuvastatin 20 mg tablet", "statin", 20, 1, 0.20, "high"),
    Drug("00310075490", "rosuvastatin 40 mg tablet", "statin", 40, 1, 0.26, "high"),
    Drug("00093715298", "simvastatin 10 mg tablet", "statin", 10, 1, 0.06, "low"),
    Drug("00093715398", "simvastatin 20 mg tablet", "statin", 20, 1, 0.07, "moderate"),
    Drug("00093715498", "simvastatin 40 mg tablet", "statin", 40, 1, 0.08, "moderate"),
    Drug("00093077198", "pravastatin 20 mg tablet", "statin", 20, 1, 0.10, "low"),
    Drug("00093077298", "pravastatin 40 mg tablet", "statin", 40, 1, 0.12, "moderate"),
    Drug("00093077398", "pravastatin 80 mg tablet", "statin", 80, 1, 0.16, "moderate"),
    Drug("00185007201", "lovastatin 40 mg tablet", "statin", 40, 1, 0.11, "moderate"),
)
STATIN_INTENSITY_MIX = {"ascvd": {"high": 0.55, "moderate": 0.41, "low": 0.04},
                        "primary": {"high": 0.18, "moderate": 0.67, "low": 0.15}}
ORAL_HYPOGLYCEMICS = (
    (Drug("00093104801", "metformin 500 mg tablet", "oral_hypoglycemic", 500, 2, 0.05), 0.30),
    (Drug("00093104901", "metformin 1000 mg tablet", "oral_hypoglycemic", 1000, 2, 0.07), 0.40),
    (Drug("00093103301", "glipizide 5 mg tablet", "oral_hypoglycemic", 5, 2, 0.06), 0.15),
    (Drug("00006011231", "sitagliptin 100 mg tablet", "oral_hypoglycemic", 100, 1, 16.50), 0.15),
)
INSULINS = (
    (Drug("00088221905", "insulin glargine 100 unit/mL pen", "insulin", None, 0.5, 22.0), 0.60),
    (Drug("00002879959", "insulin lispro 100 unit/mL pen", "insulin", None, 0.5, 19.0), 0.40),
)
ANTIHYPERTENSIVES = (
    (Drug("00093502701", "lisinopril 10 mg tablet", "antihypertensive", 10, 1, 0.04), 0.20),
    (Drug("00093502801", "lisinopril 20 mg tablet", "antihypertensive", 20, 1, 0.05), 0.15),
    (Drug("00093715701", "amlodipine 5 mg tablet", "antihypertensive", 5, 1, 0.04), 0.18),
    (Drug("00093715801", "amlodipine 10 mg tablet", "antihypertensive", 10, 1, 0.05), 0.10),
    (Drug("00093736701", "losartan 50 mg tablet", "antihypertensive", 50, 1, 0.08), 0.15),
    (Drug("00172208380", "hydrochlorothiazide 25 mg tablet", "antihypertensive", 25, 1, 0.03), 0.10),
    (Drug("00378459501", "metoprolol succinate 50 mg tablet ER", "antihypertensive", 50, 1, 0.09), 0.12),
)
OTHER_CHRONIC = (
    (Drug("00378180001", "levothyroxine 50 mcg tablet", "other", 0.05, 1, 0.10), 0.30),
    (Drug("00093521701", "omeprazole 20 mg capsule", "other", 20, 1, 0.08), 0.30),
    (Drug("00093717801", "sertraline 50 mg tablet", "other", 50, 1, 0.07), 0.25),
    (Drug("00093742801", "montelukast 10 mg tablet", "other", 10, 1, 0.11), 0.15),
)
ACUTE = (
    (Drug("00093415173", "amoxicillin 500 mg capsule", "other", 500, 3, 0.09), 0.35),
    (Drug("00093716056", "azithromycin 250 mg tablet", "other", 250, 1.2, 0.45), 0.20),
    (Drug("00904585461", "ibuprofen 800 mg tablet", "other", 800, 3, 0.06), 0.20),
    (Drug("00093089301", "cephalexin 500 mg capsule", "other", 500, 4, 0.12), 0.15),
    (Drug("00054401825", "prednisone 20 mg tablet", "other", 20, 2, 0.05), 0.10),
)
ACUTE_DAYS_SUPPLY = ((5, 0.30), (7, 0.35), (10, 0.35))

# --- Regions (ZIP3 areas) with the behaviour that differs between them ----------------------------------
class Region(NamedTuple):
    zip3: str
    area_code: str
    weight: float
    access: float          # care access, shifts engagement and screening (about -1 to 1)
    lab_coverage: float    # share of lab tests whose result reaches the plan's lab feed
    ehr_coverage: float    # share of practices that send an EHR extract
    ehr_system: int        # index into EHR_SYSTEMS


REGIONS = (
    Region("100", "212", 0.18, 0.5, 0.90, 0.75, 0),
    Region("606", "312", 0.16, 0.3, 0.88, 0.70, 1),
    Region("770", "713", 0.15, 0.0, 0.80, 0.55, 2),
    Region("303", "404", 0.13, 0.1, 0.85, 0.60, 3),
    Region("850", "602", 0.11, 0.0, 0.82, 0.65, 0),
    Region("981", "206", 0.10, 0.6, 0.92, 0.80, 0),
    Region("372", "615", 0.08, -0.3, 0.70, 0.45, 4),
    Region("387", "662", 0.05, -0.9, 0.55, 0.25, 3),
    Region("823", "307", 0.04, -0.7, 0.60, 0.30, 2),  # rural Wyoming: too few people for Safe Harbor, researchers see 000
)

# --- Lines of business and their benefit plans ----------------------------------------------------------
LINES_OF_BUSINESS = ("commercial", "medicare", "medicaid")
PLANS = {
    "commercial": (("COM-HMO-01", True, 0.45), ("COM-PPO-02", False, 0.55)),
    "medicare": (("MA-HMO-10", True, 0.60), ("MA-PPO-11", False, 0.40)),
    "medicaid": (("MCD-HMO-20", True, 1.0),),
}

# --- Names and streets for direct identifiers ---------------------------------------------------------
FEMALE_FIRST_NAMES = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
    "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
    "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Laura", "Sharon", "Cynthia", "Kathleen",
    "Amy", "Angela", "Shirley", "Brenda", "Emma", "Anna", "Pamela", "Nicole", "Samantha", "Maria",
    "Rosa", "Guadalupe", "Mei", "Aaliyah", "Priya", "Fatima", "Olivia", "Sofia", "Keisha", "Lucia",
)
MALE_FIRST_NAMES = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Christopher",
    "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Andrew", "Paul", "Joshua",
    "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Jason", "Edward", "Jeffrey", "Ryan",
    "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon",
    "Jose", "Luis", "Carlos", "Wei", "Raj", "Omar", "DeShawn", "Hiroshi", "Ahmed", "Tyrone",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
    "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper",
    "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Kim", "Patel", "Chen", "Wang", "Okafor",
)
STREET_NAMES = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Walnut", "Sunset",
    "Lincoln", "Jackson", "Church", "Highland", "Ridge", "River", "Spring", "Chestnut", "Willow", "Meadow",
    "Franklin", "Jefferson", "Madison", "Forest", "Cherry", "Mill", "Center", "Union",
)
STREET_SUFFIXES = ("St", "Ave", "Rd", "Dr", "Ln", "Blvd", "Ct", "Way", "Pl")
