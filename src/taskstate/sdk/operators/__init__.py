"""The operators Airflow's standard provider ships that taskstate builds."""
