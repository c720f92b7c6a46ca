@failover @paid @gpu @slow @serial
Feature: Failover to a CPU standby and back
  When a GPU machine dies, its work goes on on the CPU standby with the data
  intact, and comes back to a GPU afterwards. We learn how long each step of
  the recovery took and how much data was lost since the last sync.
  (@serial: these scenarios change the account's standby settings, so they run alone, one at a time.)

  Background:
    Given the Dumont Cloud API is healthy
    And I am logged in

  Scenario Outline: The GPU fails; the standby takes over by itself and the work comes back to a GPU
    Given the cheapest offer among the allowed GPUs
    And the balance covers the failover journey's maximum cost
    And CPU standby is enabled with automatic failover
    When I create an instance with a CPU standby from that offer
    Then the instance is running within the time limit
    And I can connect to it over SSH
    When I install the model "<model>"
    Then its CPU standby is syncing
    When I write a data set of <files> files of <size> KB
    Then the data set reaches the standby intact
    When I keep writing canary files and the GPU fails
    Then the standby takes over within the failover time limit
    And the standby has the model and the data set intact
    And the data lost since the last sync is at most <rpo> seconds of writes
    When I fail back to a GPU
    Then the GPU has the data set intact
    And the GPU works and the model answers
    And the total recovery time is reported
    Examples:
      | model      | files | size | rpo |
      | qwen3-0.6b | 20    | 64   | 60  |

  Scenario: The GPU fails and the operator triggers the failover
    Given the cheapest offer among the allowed GPUs
    And the balance covers the failover journey's maximum cost
    And CPU standby is enabled without automatic failover
    When I create an instance with a CPU standby from that offer
    Then the instance is running within the time limit
    And I can connect to it over SSH
    When I install the model "qwen3-0.6b"
    Then its CPU standby is syncing
    When I write a data set of 10 files of 32 KB
    Then the data set reaches the standby intact
    When I keep writing canary files and the GPU fails
    And I ask for the failover
    Then the standby takes over within the failover time limit
    And the standby has the model and the data set intact
    And the data lost since the last sync is reported
    When I fail back to a GPU
    Then the GPU has the data set intact
    And the GPU works and the model answers
    And the total recovery time is reported
