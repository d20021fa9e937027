from pydantic import BaseModel


class Province(BaseModel):
    code: str
    name: str
    division_type: str


class Commune(BaseModel):
    code: str
    name: str
    division_type: str
    province_code: str
