"""Files that hand the pipeline to the schedulers teams already run: an Airflow DAG, a KFP v2 spec."""
